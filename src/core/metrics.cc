#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace taskgrid {
namespace {

// Registration mistakes are programmer errors: say what and stop.
[[noreturn]] void Fail(std::string_view what) {
  std::fprintf(stderr, "taskgrid metrics: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::abort();
}

bool ValidName(std::string_view name, bool label) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '_' || (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (quote && c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// `name{a="1",b="2"}` (no braces without labels), plus an extra label.
void AppendSeries(
    std::string* out, std::string_view name, const MetricLabels& labels,
    const std::pair<std::string_view, std::string>* extra = nullptr) {
  *out += name;
  if (labels.empty() && extra == nullptr) return;
  *out += '{';
  bool first = true;
  auto label = [&](std::string_view k, std::string_view v) {
    if (!first) *out += ',';
    first = false;
    *out += k;
    *out += "=\"";
    AppendEscaped(out, v, /*quote=*/true);
    *out += '"';
  };
  for (const auto& [k, v] : labels) label(k, v);
  if (extra != nullptr) label(extra->first, extra->second);
  *out += '}';
}

void AppendHeader(std::string* out, std::string_view name,
                  std::string_view help, std::string_view type) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  AppendEscaped(out, help, /*quote=*/false);
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

// ---- Histogram --------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  if (bounds_.size() > kMaxBounds) Fail("too many histogram bounds");
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Fail("histogram bounds must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

size_t Histogram::BucketOf(double v) const {
  // First bound >= v: `le` is inclusive.
  return static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
}

void Histogram::Observe(double v) {
  buckets_[BucketOf(v)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

void Histogram::Merge(const Batch& batch) {
  if (batch.h_ != this) Fail("a histogram batch merged into another one");
  if (!batch.any_) return;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    if (batch.counts_[i] != 0) {
      buckets_[i].fetch_add(batch.counts_[i], std::memory_order_relaxed);
    }
  }
  sum_.fetch_add(batch.sum_, std::memory_order_relaxed);
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += bucket_count(i);
  return n;
}

// ---- MetricsRegistry --------------------------------------------------------

MetricsRegistry& MetricsRegistry::Global() {
  static MetricsRegistry* const registry = new MetricsRegistry();
  return *registry;
}

MetricsRegistry::Entry& MetricsRegistry::AddEntry(std::string_view name,
                                                  std::string_view help,
                                                  Type type,
                                                  MetricLabels labels) {
  if (!ValidName(name, /*label=*/false)) {
    Fail(fmt::format("bad metric name '{}'", name));
  }
  for (const auto& [k, v] : labels) {
    if (!ValidName(k, /*label=*/true) || k == "le") {
      Fail(fmt::format("bad label name '{}' on {}", k, name));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const Family& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back(Family{std::string(name), std::string(help), type, {}});
    it = families_.end() - 1;
  } else if (it->type != type) {
    Fail(fmt::format("metric {} registered with two types", name));
  }
  for (const Entry& e : it->entries) {
    if (e.labels == labels) {
      Fail(
          fmt::format("metric {} registered twice with the same labels", name));
    }
  }
  it->entries.push_back(Entry{std::move(labels), nullptr, nullptr, nullptr});
  return it->entries.back();
}

Counter* MetricsRegistry::AddCounter(std::string_view name,
                                     std::string_view help,
                                     MetricLabels labels) {
  Entry& e = AddEntry(name, help, Type::kCounter, std::move(labels));
  e.counter = std::make_unique<Counter>();
  return e.counter.get();
}

Gauge* MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                 MetricLabels labels) {
  Entry& e = AddEntry(name, help, Type::kGauge, std::move(labels));
  e.gauge = std::make_unique<Gauge>();
  return e.gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(std::string_view name,
                                         std::string_view help,
                                         std::vector<double> bounds,
                                         MetricLabels labels) {
  // Checked before the entry exists, so a bad list leaves nothing behind.
  auto h = std::make_unique<Histogram>(std::move(bounds));
  Entry& e = AddEntry(name, help, Type::kHistogram, std::move(labels));
  e.histogram = std::move(h);
  return e.histogram.get();
}

void MetricsRegistry::Render(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Family& f : families_) {
    switch (f.type) {
      case Type::kCounter:
        AppendHeader(out, f.name, f.help, "counter");
        for (const Entry& e : f.entries) {
          AppendSeries(out, f.name, e.labels);
          *out += fmt::format(" {}\n", e.counter->value());
        }
        break;
      case Type::kGauge:
        AppendHeader(out, f.name, f.help, "gauge");
        for (const Entry& e : f.entries) {
          AppendSeries(out, f.name, e.labels);
          *out += fmt::format(" {}\n", e.gauge->value());
        }
        break;
      case Type::kHistogram: {
        AppendHeader(out, f.name, f.help, "histogram");
        const std::string bucket = f.name + "_bucket";
        for (const Entry& e : f.entries) {
          const Histogram& h = *e.histogram;
          // _count is the sum of the buckets read here, so it always equals
          // the +Inf bucket even while observations arrive.
          uint64_t cumulative = 0;
          for (size_t i = 0; i <= h.bounds().size(); ++i) {
            cumulative += h.bucket_count(i);
            const std::pair<std::string_view, std::string> le{
                "le", i < h.bounds().size() ? FormatMetricValue(h.bounds()[i])
                                            : "+Inf"};
            AppendSeries(out, bucket, e.labels, &le);
            *out += fmt::format(" {}\n", cumulative);
          }
          AppendSeries(out, f.name + "_sum", e.labels);
          *out += fmt::format(" {}\n", FormatMetricValue(h.sum()));
          AppendSeries(out, f.name + "_count", e.labels);
          *out += fmt::format(" {}\n", cumulative);
        }
        break;
      }
    }
  }
}

void WriteMetricFamily(std::string* out, std::string_view name,
                       std::string_view help, std::string_view type,
                       const std::vector<MetricSample>& samples) {
  AppendHeader(out, name, help, type);
  for (const MetricSample& s : samples) {
    AppendSeries(out, name, s.labels);
    *out += fmt::format(" {}\n", FormatMetricValue(s.value));
  }
}

// ---- taskgrid's own series --------------------------------------------------

const TaskgridMetrics& Metrics() {
  static const TaskgridMetrics* const m = [] {
    MetricsRegistry& r = MetricsRegistry::Global();
    auto* t = new TaskgridMetrics{};
    t->tasks_dispatched = r.AddCounter(
        "taskgrid_tasks_dispatched_total",
        "Task attempts handed to workers (or run by the master itself).");
    const char kCompleted[] =
        "Task attempts that ended, by outcome: succeeded, failed (to be "
        "retried) or dead (out of attempts).";
    t->completed_succeeded =
        r.AddCounter("taskgrid_tasks_completed_total", kCompleted,
                     {{"outcome", "succeeded"}});
    t->completed_failed = r.AddCounter("taskgrid_tasks_completed_total",
                                       kCompleted, {{"outcome", "failed"}});
    t->completed_dead = r.AddCounter("taskgrid_tasks_completed_total",
                                     kCompleted, {{"outcome", "dead"}});
    t->task_duration = r.AddHistogram(
        "taskgrid_task_duration_seconds",
        "Run time of task attempts that ended, as the worker reported it.",
        {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800,
         3600});
    t->workers =
        r.AddGauge("taskgrid_workers",
                   "Workers known to the master in this process (registered "
                   "and alive; for `taskgrid run`, its local workers).");
    t->store_commit = r.AddHistogram(
        "taskgrid_store_commit_seconds",
        "Latency of one group commit of a job's changes to the state store.",
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
         2.5, 5, 10});
    return t;
  }();
  return *m;
}

}  // namespace taskgrid
