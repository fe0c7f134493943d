// Process-wide metrics: counters, gauges and fixed-bucket histograms,
// rendered in the Prometheus text exposition format 0.0.4 (what `/metrics`
// serves, web/web_server.h).
//
//   static const TaskgridMetrics& m = Metrics();  // once, then lock-free
//   m.tasks_dispatched->Add(batch.size());
//
// Updates are lock-free atomics (relaxed: a scrape may see one counter a
// little ahead of another, never a torn value), so hot paths pay one atomic
// add per call; add once per batch where there is a batch. Registration and
// rendering take a mutex and are for start-up and scrapes only.
//
// Thread-safety: every method of every class here is thread-safe. Metric
// objects live as long as their registry (the global one: the process).
#ifndef TASKGRID_CORE_METRICS_H_
#define TASKGRID_CORE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taskgrid {

// name="value" pairs, in the order given.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations counted in fixed buckets: bucket i holds values v with
// bounds[i-1] < v <= bounds[i] (Prometheus `le` semantics); one more bucket
// holds what is above the last bound (+Inf).
class Histogram {
 public:
  // `bounds`: strictly increasing, finite, at most kMaxBounds. Checked: a
  // bad list is a programmer error (abort).
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);
  // Index of the bucket `v` falls in (bounds().size() for +Inf).
  size_t BucketOf(double v) const;

  // At most this many bounds (so a Batch needs no allocation).
  static constexpr size_t kMaxBounds = 31;

  // Observations collected locally (say, over one batch of reports) and
  // added with one atomic add per bucket touched. Not thread-safe.
  class Batch {
   public:
    explicit Batch(const Histogram* h) : h_(h) {}
    void Observe(double v) {
      ++counts_[h_->BucketOf(v)];
      sum_ += v;
      any_ = true;
    }

   private:
    friend class Histogram;
    const Histogram* h_;
    std::array<uint64_t, kMaxBounds + 1> counts_{};
    double sum_ = 0;
    bool any_ = false;
  };
  void Merge(const Batch& batch);

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size(): +Inf).
  uint64_t bucket_count(size_t i) const {
    return buckets_[i].load(std::memory_order_relaxed);
  }
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// One sample of a metric computed at scrape time (see WriteMetricFamily).
struct MetricSample {
  MetricLabels labels;
  double value = 0;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The process's registry (what `/metrics` renders).
  static MetricsRegistry& Global();

  // Registers a metric and returns it (owned by the registry, never
  // moved). Metrics of one name form a family: same type and help, distinct
  // label sets. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; a bad name, a
  // type clash or a duplicate label set is a programmer error (abort).
  Counter* AddCounter(std::string_view name, std::string_view help,
                      MetricLabels labels = {});
  Gauge* AddGauge(std::string_view name, std::string_view help,
                  MetricLabels labels = {});
  Histogram* AddHistogram(std::string_view name, std::string_view help,
                          std::vector<double> bounds, MetricLabels labels = {});

  // Appends every family, in registration order, in the text format.
  void Render(std::string* out) const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Entry {
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::deque<Entry> entries;
  };
  Entry& AddEntry(std::string_view name, std::string_view help, Type type,
                  MetricLabels labels);

  mutable std::mutex mu_;
  std::deque<Family> families_;  // guarded by mu_
};

// Appends one family ("counter", "gauge" or "untyped") whose samples were
// computed at scrape time, in the same format as MetricsRegistry::Render.
void WriteMetricFamily(std::string* out, std::string_view name,
                       std::string_view help, std::string_view type,
                       const std::vector<MetricSample>& samples);
// Formats a sample value as Prometheus reads it ("3", "0.25", "+Inf").
std::string FormatMetricValue(double v);

// The series taskgrid itself keeps, registered in MetricsRegistry::Global()
// on first use. Tasks and jobs by state are not here: the web server
// computes them at scrape time from the ControlService.
struct TaskgridMetrics {
  Counter* tasks_dispatched;  // attempts handed to workers
  Counter* completed_succeeded;
  Counter* completed_failed;  // failed, will be retried
  Counter* completed_dead;    // failed, out of attempts
  Histogram* task_duration;   // seconds, from report started/finished
  Gauge* workers;             // workers this process's master knows
  Histogram* store_commit;    // seconds per group commit (StoreWriter)
};
const TaskgridMetrics& Metrics();

}  // namespace taskgrid

#endif  // TASKGRID_CORE_METRICS_H_
