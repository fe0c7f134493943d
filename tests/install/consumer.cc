// A user program built against the installed taskgrid package: one
// processor of its own, and taskgrid::Main, so the binary is a full taskgrid
// CLI that also knows "hello". Used by test_install.sh.
#include <taskgrid/taskgrid.h>

#include <string>

namespace {

class Hello : public taskgrid::StandaloneProcessor {
 public:
  taskgrid::Status Process(taskgrid::TaskContext& ctx) override {
    const std::string who = ctx.params().StringOr("who", "world");
    ctx.Log("saying hello to " + who);
    ctx.SetResult("hello, " + who);
    return taskgrid::OkStatus();
  }
};

}  // namespace

TASKGRID_REGISTER_PROCESSOR("hello", Hello);

int main(int argc, char** argv) { return taskgrid::Main(argc, argv); }
