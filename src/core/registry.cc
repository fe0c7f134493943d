#include <map>
#include <mutex>
#include <stdexcept>

#include "processors/builtin.h"
#include "taskgrid/processor.h"

namespace taskgrid {

struct ProcessorRegistry::Impl {
  mutable std::mutex mu;
  std::map<std::string, ProcessorFactory, std::less<>>
      factories;  // guarded by mu
};

ProcessorRegistry::ProcessorRegistry() : impl_(std::make_unique<Impl>()) {}
ProcessorRegistry::~ProcessorRegistry() = default;

ProcessorRegistry& ProcessorRegistry::Global() {
  // Built-ins are registered here rather than by static registrars: those
  // would live in a static library and be dropped by the linker.
  static ProcessorRegistry* registry = [] {
    auto* r = new ProcessorRegistry();
    RegisterBuiltinProcessors(*r);
    return r;
  }();
  return *registry;
}

Status ProcessorRegistry::Register(std::string name, ProcessorFactory factory) {
  if (name.empty()) return InvalidArgumentError("processor name is empty");
  if (!factory) {
    return InvalidArgumentError("processor '" + name + "' has no factory");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto [it, inserted] = impl_->factories.emplace(name, std::move(factory));
  if (!inserted) {
    return AlreadyExistsError("processor '" + name + "' is already registered");
  }
  return OkStatus();
}

std::unique_ptr<Processor> ProcessorRegistry::Create(
    std::string_view name) const {
  ProcessorFactory f;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->factories.find(name);
    if (it == impl_->factories.end()) return nullptr;
    f = it->second;
  }
  return f();
}

bool ProcessorRegistry::Contains(std::string_view name) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->factories.find(name) != impl_->factories.end();
}

std::vector<std::string> ProcessorRegistry::Names() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& [n, f] : impl_->factories) names.push_back(n);
  return names;
}

namespace internal {
ProcessorRegistrar::ProcessorRegistrar(const char* name,
                                       ProcessorFactory factory) {
  Status s = ProcessorRegistry::Global().Register(name, std::move(factory));
  if (!s.ok()) throw std::logic_error(s.ToString());
}
}  // namespace internal

Status Processor::Reduce(JobContext&) { return OkStatus(); }
Status Processor::PostProcess(JobContext&) { return OkStatus(); }

StatusOr<std::string> TaskContext::OutputPath(std::string_view) {
  return FailedPreconditionError("this context has no output directory");
}

void TaskContext::Emit(std::string_view, std::string_view) {
  throw std::logic_error(
      "Emit() is only allowed in the map tasks of a shuffle job");
}

StatusOr<std::string> JobContext::OutputPath(std::string_view) {
  return FailedPreconditionError("this context has no output directory");
}

Status JobContext::ForEachTask(const std::function<void(const TaskInput&)>&) {
  return UnimplementedError("this context does not list its tasks");
}

StatusOr<std::vector<TaskResult>> JobContext::Results() {
  std::vector<TaskResult> out;
  Status s = ForEachResult([&](const TaskResult& r) { out.push_back(r); });
  if (!s.ok()) return s;
  return out;
}

}  // namespace taskgrid
