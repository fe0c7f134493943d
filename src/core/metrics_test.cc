#include "core/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>

namespace taskgrid {
namespace {

TEST(HistogramTest, BucketOfUsesInclusiveUpperBounds) {
  Histogram h({0.1, 1, 10});
  struct Case {
    double v;
    size_t bucket;
  };
  const Case cases[] = {
      {-5, 0},    {0, 0},
      {0.1, 0},   {0.1000001, 1},
      {1, 1},     {5, 2},
      {10, 2},    {10.5, 3},
      {1e300, 3}, {std::numeric_limits<double>::infinity(), 3},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(h.BucketOf(c.v), c.bucket) << "value " << c.v;
  }
}

TEST(HistogramTest, ObserveCountsAndSums) {
  Histogram h({1, 2});
  h.Observe(0.5);
  h.Observe(1.5);
  h.Observe(1.5);
  h.Observe(3);
  EXPECT_EQ(h.bucket_count(0), 1u);
  EXPECT_EQ(h.bucket_count(1), 2u);
  EXPECT_EQ(h.bucket_count(2), 1u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 6.5);
}

TEST(HistogramTest, BatchMergesLikeSingleObservations) {
  Histogram a({1, 2}), b({1, 2});
  Histogram::Batch batch(&b);
  for (double v : {0.5, 1.5, 7.0, 2.0}) {
    a.Observe(v);
    batch.Observe(v);
  }
  EXPECT_EQ(b.count(), 0u);  // nothing until merged
  b.Merge(batch);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(a.bucket_count(i), b.bucket_count(i));
  EXPECT_DOUBLE_EQ(a.sum(), b.sum());
  b.Merge(Histogram::Batch(&b));  // an empty batch changes nothing
  EXPECT_EQ(b.count(), 4u);
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram h({1});
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        h.Observe(i % 2 == 0 ? 0.5 : 2);
        c.Add();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.bucket_count(0), 20000u);
  EXPECT_DOUBLE_EQ(h.sum(), 20000 * 0.5 + 20000 * 2.0);
  EXPECT_EQ(c.value(), 40000u);
}

TEST(MetricsRegistryTest, RendersCountersAndGaugesWithLabels) {
  MetricsRegistry r;
  Counter* ok = r.AddCounter("t_done_total", "Done.", {{"outcome", "ok"}});
  Counter* bad = r.AddCounter("t_done_total", "Done.", {{"outcome", "bad"}});
  Gauge* g = r.AddGauge("t_workers", "Workers\nnow \\ here.");
  ok->Add(3);
  bad->Add();
  g->Set(7);
  g->Add(-2);
  std::string out;
  r.Render(&out);
  EXPECT_EQ(out,
            "# HELP t_done_total Done.\n"
            "# TYPE t_done_total counter\n"
            "t_done_total{outcome=\"ok\"} 3\n"
            "t_done_total{outcome=\"bad\"} 1\n"
            "# HELP t_workers Workers\\nnow \\\\ here.\n"
            "# TYPE t_workers gauge\n"
            "t_workers 5\n");
}

TEST(MetricsRegistryTest, RendersHistogramCumulatively) {
  MetricsRegistry r;
  Histogram* h = r.AddHistogram("t_seconds", "Time.", {0.5, 1});
  h->Observe(0.25);
  h->Observe(0.75);
  h->Observe(0.75);
  h->Observe(4);
  std::string out;
  r.Render(&out);
  EXPECT_EQ(out,
            "# HELP t_seconds Time.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{le=\"0.5\"} 1\n"
            "t_seconds_bucket{le=\"1\"} 3\n"
            "t_seconds_bucket{le=\"+Inf\"} 4\n"
            "t_seconds_sum 5.75\n"
            "t_seconds_count 4\n");
}

TEST(MetricsRegistryTest, EscapesLabelValues) {
  std::string out;
  WriteMetricFamily(&out, "t_tasks", "Tasks.", "gauge",
                    {{{{"state", "a\"b\\c\nd"}}, 2}, {{}, 0.125}});
  EXPECT_EQ(out,
            "# HELP t_tasks Tasks.\n"
            "# TYPE t_tasks gauge\n"
            "t_tasks{state=\"a\\\"b\\\\c\\nd\"} 2\n"
            "t_tasks 0.125\n");
}

TEST(MetricsRegistryTest, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.0005), "0.0005");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
}

TEST(MetricsRegistryDeathTest, RejectsBadRegistrations) {
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.AddCounter("bad name", "x");
      },
      "bad metric name");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.AddCounter("t_x", "x");
        r.AddGauge("t_x", "x");
      },
      "two types");
  EXPECT_DEATH(
      {
        MetricsRegistry r;
        r.AddCounter("t_x", "x", {{"a", "1"}});
        r.AddCounter("t_x", "x", {{"a", "1"}});
      },
      "twice");
  EXPECT_DEATH({ Histogram h({1, 1}); }, "strictly increasing");
}

TEST(MetricsTest, TaskgridSeriesAreRegisteredInTheGlobalRegistry) {
  const TaskgridMetrics& m = Metrics();
  EXPECT_EQ(&m, &Metrics());
  std::string out;
  MetricsRegistry::Global().Render(&out);
  for (const char* name :
       {"# TYPE taskgrid_tasks_dispatched_total counter",
        "taskgrid_tasks_completed_total{outcome=\"succeeded\"}",
        "taskgrid_tasks_completed_total{outcome=\"failed\"}",
        "taskgrid_tasks_completed_total{outcome=\"dead\"}",
        "# TYPE taskgrid_task_duration_seconds histogram",
        "# TYPE taskgrid_workers gauge",
        "# TYPE taskgrid_store_commit_seconds histogram"}) {
    EXPECT_NE(out.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace taskgrid
