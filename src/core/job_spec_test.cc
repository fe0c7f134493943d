#include "taskgrid/job_spec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "taskgrid/processor.h"

namespace taskgrid {
namespace {

using Values = std::map<std::string, std::string, std::less<>>;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Test processors, registered in the global registry so the tests do not
// depend on which built-ins exist yet.
class AllModels : public Processor {
 public:
  Status Process(TaskContext&) override { return OkStatus(); }
};
class MapOnly : public MapProcessor {
 public:
  Status Process(TaskContext&) override { return OkStatus(); }
};

void RegisterTestProcessors() {
  static const bool registered = [] {
    ProcessorRegistry& r = ProcessorRegistry::Global();
    r.Register("spec_all", [] {
       return std::make_unique<AllModels>();
     }).IgnoreError();
    r.Register("spec_map_only", [] {
       return std::make_unique<MapOnly>();
     }).IgnoreError();
    r.Register("spec_throws", []() -> std::unique_ptr<Processor> {
       throw std::runtime_error("boom");
     }).IgnoreError();
    r.Register("spec_null", [] {
       return std::unique_ptr<Processor>();
     }).IgnoreError();
    return true;
  }();
  (void)registered;
}

StatusOr<JobSpec> Parse(std::string_view yaml) {
  RegisterTestProcessors();
  return ParseJobSpec(yaml, "job.yaml");
}

// A valid head (lines 1-2); the rest of a case starts on line 3.
std::string Job(std::string_view rest) {
  return "name: j\nprocessor: spec_all\n" + std::string(rest);
}

std::string KnownProcessors() {
  std::string s;
  for (const std::string& n : ProcessorRegistry::Global().Names()) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

void ExpectSameSpec(const JobSpec& a, const JobSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.processor, b.processor);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.input_kind, b.input_kind);
  EXPECT_EQ(a.range.start, b.range.start);
  EXPECT_EQ(a.range.end, b.range.end);
  EXPECT_EQ(a.range.step, b.range.step);
  EXPECT_EQ(a.list, b.list);
  EXPECT_EQ(a.files, b.files);
  EXPECT_EQ(a.split_bytes, b.split_bytes);
  EXPECT_EQ(a.params.values(), b.params.values());
  EXPECT_EQ(a.retry.max_attempts, b.retry.max_attempts);
  EXPECT_EQ(a.retry.backoff, b.retry.backoff);
  EXPECT_EQ(a.timeout, b.timeout);
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.stage, b.stage);
  EXPECT_EQ(a.stages, b.stages);
  EXPECT_EQ(a.after_job, b.after_job);
  ASSERT_EQ(a.then.size(), b.then.size());
  for (size_t i = 0; i < a.then.size(); ++i) {
    ExpectSameSpec(a.then[i], b.then[i]);
  }
}

// ---------------------------------------------------------------------------
// Errors: every case must be InvalidArgument, start with
// "job.yaml:<line>:<col>: " and contain each needle.

struct ErrorCase {
  const char* test_name;
  std::string yaml;
  const char* where;  // "line:col"
  std::vector<std::string> needles;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.test_name; }

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, ReportsFileLineColumnAndField) {
  const ErrorCase& c = GetParam();
  StatusOr<JobSpec> spec = Parse(c.yaml);
  ASSERT_FALSE(spec.ok()) << "parsed:\n" << c.yaml;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument)
      << spec.status();
  const std::string msg = spec.status().message();
  EXPECT_EQ(msg.rfind("job.yaml:" + std::string(c.where) + ": ", 0), 0u) << msg;
  for (const std::string& needle : c.needles) {
    EXPECT_NE(msg.find(needle), std::string::npos)
        << "missing '" << needle << "' in: " << msg;
  }
}

std::vector<ErrorCase> ErrorCases() {
  RegisterTestProcessors();  // before KnownProcessors() below
  return {
      // Unknown fields, with and without a suggestion.
      {"UnknownTopField",
       "name: j\nprocesor: spec_all\n",
       "2:1",
       {"unknown field 'procesor'", "(did you mean 'processor'?)"}},
      {"UnknownTopFieldTransposed",
       Job("modle: map\n"),
       "3:1",
       {"unknown field 'modle'", "did you mean 'model'?"}},
      {"UnknownTopFieldNoSuggestion",
       Job("zzzzzz: 1\n"),
       "3:1",
       {"unknown field 'zzzzzz'", "expected one of: name, key, processor"}},
      {"UnknownShortFieldNoSuggestion",
       Job("x: 1\n"),
       "3:1",
       {"unknown field 'x'", "expected one of"}},
      {"UnknownRangeField",
       Job("input:\n  range: {start: 0, end: 10, stpe: 2}\n"),
       "4:30",
       {"unknown field 'stpe' in field 'range'", "did you mean 'step'?"}},
      {"UnknownRetryField",
       Job("retry: {max_attempt: 3}\n"),
       "3:9",
       {"unknown field 'max_attempt'", "did you mean 'max_attempts'?"}},
      {"UnknownInputField",
       Job("input: {lists: [a]}\n"),
       "3:9",
       {"unknown field 'lists' in field 'input'", "did you mean 'list'?"}},
      {"EmptyFieldName",
       Job("\"\": 1\n"),
       "3:1",
       {"expected a field name", "got ''"}},
      {"ComplexKey",
       Job("? [a, b]\n: 1\n"),
       "3:3",
       {"expected a field name", "a sequence"}},

      // Wrong types.
      {"NameIsSequence",
       "name: [a]\nprocessor: spec_all\n",
       "1:7",
       {"field 'name': expected a string, got a sequence"}},
      {"NameIsNull",
       "name:\nprocessor: spec_all\n",
       "1:1",
       {"field 'name': expected a string, got nothing"}},
      {"NameIsEmpty",
       "name: ''\nprocessor: spec_all\n",
       "1:7",
       {"field 'name': expected a non-empty string"}},
      {"ProcessorIsMap",
       "name: j\nprocessor: {a: 1}\n",
       "2:12",
       {"field 'processor': expected a string, got a map"}},
      {"KeyIsMap",
       Job("key: {a: 1}\n"),
       "3:6",
       {"field 'key': expected a string, got a map"}},
      {"OutputIsSequence",
       Job("output: [a]\n"),
       "3:9",
       {"field 'output': expected a string"}},
      {"RetryIsScalar",
       Job("retry: 3\n"),
       "3:8",
       {"field 'retry': expected a map", "max_attempts, backoff", "got '3'"}},
      {"InputIsScalar",
       Job("input: x\n"),
       "3:8",
       {"field 'input': expected a map", "got 'x'"}},
      {"StartNotInteger",
       Job("input:\n  range: {start: x, end: 5}\n"),
       "4:18",
       {"field 'start': expected an integer, got 'x'"}},
      {"EndIsFloat",
       Job("input: {range: {start: 0, end: 1.5}}\n"),
       "3:32",
       {"field 'end': expected an integer, got '1.5'"}},
      {"EndOverflows",
       Job("input: {range: {start: 0, end: 99999999999999999999}}\n"),
       "3:32",
       {"field 'end': expected a 64-bit integer", "out of range"}},
      {"StepHasPlusSign",
       Job("input: {range: {start: 0, end: 9, step: +1}}\n"),
       "3:41",
       {"field 'step': expected an integer, got '+1'"}},
      {"MaxAttemptsNotInteger",
       Job("retry: {max_attempts: three}\n"),
       "3:23",
       {"field 'max_attempts': expected an integer, got 'three'"}},
      {"MaxAttemptsZero",
       Job("retry: {max_attempts: 0}\n"),
       "3:23",
       {"field 'max_attempts': must be between 1 and 1000, got 0"}},
      {"MaxAttemptsTooMany",
       Job("retry: {max_attempts: 1001}\n"),
       "3:23",
       {"field 'max_attempts': must be between 1 and 1000, got 1001"}},
      {"ParamsIsSequence",
       Job("params: [a]\n"),
       "3:9",
       {"field 'params': expected a map, got a sequence"}},
      {"ParamsIsNull",
       Job("params:\n"),
       "3:1",
       {"field 'params': expected a map, got nothing"}},
      {"ListIsScalar",
       Job("input: {list: a}\n"),
       "3:15",
       {"field 'list': expected a sequence of strings, got 'a'"}},
      {"ListIsEmpty",
       Job("input: {list: []}\n"),
       "3:15",
       {"field 'list': must not be empty"}},
      {"ListItemIsSequence",
       Job("input: {list: [a, [b]]}\n"),
       "3:19",
       {"field 'list': item 1: expected a string, got a sequence"}},
      {"ListItemIsNull",
       Job("input: {list: [a, ~]}\n"),
       "3:15",
       {"field 'list': item 1: expected a string, got nothing"}},

      // Missing fields.
      {"MissingName",
       "processor: spec_all\n",
       "1:1",
       {"missing required field 'name'"}},
      {"MissingProcessor",
       "name: j\nkey: k\n",
       "1:1",
       {"missing required field 'processor'"}},
      {"MissingRangeEnd",
       Job("input:\n  range: {start: 0}\n"),
       "4:10",
       {"missing required field 'end' in field 'range'"}},

      // Input shape.
      {"InputRangeAndList",
       Job("input: {range: {start: 0, end: 1}, list: [a]}\n"),
       "3:8",
       {"field 'input': expected one of 'range', 'list' or 'files', not "
        "several"}},
      {"InputNeither",
       Job("input: {}\n"),
       "3:8",
       {"field 'input': expected one of 'range', 'list' or 'files'"}},
      {"SplitWithoutFiles",
       Job("input: {list: [a], split: file}\n"),
       "3:27",
       {"field 'split': only applies to a 'files' input"}},
      {"BadSplit",
       Job("input: {files: [x], split: lines}\n"),
       "3:28",
       {"field 'split': expected 'file' or 'bytes:SIZE'"}},
      {"BadSplitSize",
       Job("input: {files: [x], split: \"bytes:12XB\"}\n"),
       "3:28",
       {"invalid byte size '12XB'"}},
      {"EmptyRange",
       Job("input: {range: {start: 5, end: 5}}\n"),
       "3:16",
       {"empty range: end (5) must be greater than start (5)"}},
      {"BackwardsRange",
       Job("input: {range: {start: 5, end: -5}}\n"),
       "3:16",
       {"empty range: end (-5) must be greater than start (5)"}},
      {"ZeroStep",
       Job("input: {range: {start: 0, end: 5, step: 0}}\n"),
       "3:41",
       {"field 'step': must be greater than 0, got 0"}},
      {"NegativeStep",
       Job("input: {range: {start: 0, end: 5, step: -2}}\n"),
       "3:41",
       {"field 'step': must be greater than 0, got -2"}},
      {"RangeTooLarge",
       Job("input: {range: {start: -9223372036854775808, end: 0}}\n"),
       "3:16",
       {"range too large"}},

      // Processor and model.
      {"UnknownProcessor",
       "name: j\nprocessor: nop\n",
       "2:12",
       {"unknown processor 'nop' (known: " + KnownProcessors() + ")"}},
      {"UnknownModel",
       Job("model: mapreduse\n"),
       "3:8",
       {"field 'model': unknown model 'mapreduse'",
        "(expected one of: standalone, broadcast, map, mapreduce)"}},
      {"ModelNotSupported",
       "name: j\nprocessor: spec_map_only\nmodel: broadcast\n",
       "3:8",
       {"processor 'spec_map_only' does not support model 'broadcast'",
        "(it supports: map)"}},
      {"DefaultModelNotSupported",
       "name: j\nprocessor: spec_map_only\n",
       "2:12",
       {"processor 'spec_map_only' does not support model 'standalone'"}},
      {"InputOnStandalone",
       Job("model: standalone\ninput: {list: [a]}\n"),
       "4:1",
       {"field 'input': model 'standalone' takes no input"}},
      {"InputOnBroadcast",
       Job("model: broadcast\ninput: {range: {start: 0, end: 9}}\n"),
       "4:1",
       {"field 'input': model 'broadcast' takes no input"}},

      // Durations.
      {"TimeoutWithoutUnit",
       Job("timeout: 30\n"),
       "3:10",
       {"field 'timeout': duration '30' needs a unit: ms, s, m or h"}},
      {"TimeoutNegative",
       Job("timeout: -5s\n"),
       "3:10",
       {"field 'timeout': duration must not be negative, got '-5s'"}},
      {"TimeoutUnknownUnit",
       Job("timeout: 5d\n"),
       "3:10",
       {"field 'timeout': expected a duration", "got '5d'"}},
      {"TimeoutFraction",
       Job("timeout: 1.5s\n"),
       "3:10",
       {"field 'timeout': expected a duration", "got '1.5s'"}},
      {"TimeoutWords",
       Job("timeout: soon\n"),
       "3:10",
       {"field 'timeout': expected a duration", "got 'soon'"}},
      {"TimeoutOverflow",
       Job("timeout: 9999999999999999h\n"),
       "3:10",
       {"field 'timeout': duration out of range"}},
      {"BackoffWithoutUnit",
       Job("retry:\n  backoff: 10\n"),
       "4:12",
       {"field 'backoff': duration '10' needs a unit"}},
      {"BackoffIsMap",
       Job("retry: {backoff: {a: 1}}\n"),
       "3:18",
       {"field 'backoff': expected a duration", "got a map"}},

      // Duplicates.
      {"DuplicateTopField",
       Job("name: k\n"),
       "3:1",
       {"duplicate field 'name' in the job spec (first at line 1)"}},
      {"DuplicateRetryField",
       Job("retry: {backoff: 1s, backoff: 2s}\n"),
       "3:22",
       {"duplicate field 'backoff' in field 'retry'"}},
      {"DuplicateParamsKey",
       Job("params:\n  db: {path: a, path: b}\n"),
       "4:17",
       {"duplicate field 'path' in params.db"}},
      {"DuplicateParamsMapKey",
       Job("params:\n  a: {x: 1}\n  a: {y: 2}\n"),
       "5:3",
       {"duplicate field 'a' in params"}},
      {"ParamsFlattenCollision",
       Job("params: {\"a.b\": 1, a: {b: 2}}\n"),
       "3:27",
       {"params: key 'a.b' is given more than once"}},
      {"ParamsCyclicAlias",
       Job("params: &p {x: *p}\n"),
       "3:9",
       {"params: nested more than 64 levels"}},

      // Document shape and syntax.
      {"TopIsSequence",
       "- name: j\n- processor: spec_all\n",
       "1:1",
       {"the job spec: expected a map (fields: name, key, processor",
        "got a sequence"}},
      {"TopIsScalar",
       "hello\n",
       "1:1",
       {"the job spec: expected a map", "got 'hello'"}},
      {"EmptyDocument", "", "1:1", {"empty document"}},
      {"CommentOnlyDocument", "# nothing here\n", "1:1", {"empty document"}},
      {"NullDocument", "---\n", "1:1", {"empty document"}},
      {"TwoDocuments",
       Job("---\nname: k\n"),
       "3:1",
       {"unexpected second YAML document"}},
      {"SyntaxErrorMapValue",
       "name: j\nprocessor: a: b\n",
       "2:13",
       {"YAML syntax error: illegal map value"}},
      {"StrayFlowEntry", ",\n", "1:1", {"empty document"}},
      {"StrayFlowEntryAfterMap",
       Job(",\n"),
       "3:1",
       {"YAML syntax error: end of map not found"}},
      {"StrayFlowEntryAfterSequence",
       "- a\n,\n",
       "2:1",
       {"unexpected second YAML document"}},
      {"SyntaxErrorUnclosedFlow",
       Job("params: {a: 1\n"),
       "4:1",
       {"YAML syntax error"}},
      {"SyntaxErrorUndefinedAlias",
       Job("output: *nowhere\n"),
       "3:9",
       {"YAML syntax error", "anchor"}},
      {"InvalidUtf8", Job("output: \"a\xff\"\n"), "3:11", {"not valid UTF-8"}},
      {"NulByte",
       Job(std::string_view("output: a\0b\n", 12)),
       "3:10",
       {"NUL byte"}},
      // Chained stages.
      {"StagesWithTopProcessor",
       Job("output: o\nstages:\n  - processor: spec_all\n"),
       "2:1",
       {"field 'processor'", "with 'stages', give it in each stage"}},
      {"StagesWithoutOutput",
       "name: j\nstages:\n  - processor: spec_all\n",
       "2:1",
       {"a chain of stages needs an 'output'"}},
      {"StagesEmpty",
       "name: j\noutput: o\nstages: []\n",
       "3:9",
       {"field 'stages'", "non-empty sequence of stages"}},
      {"StageUnknownField",
       "name: j\noutput: o\nstages:\n  - processor: spec_all\n    "
       "modle: map\n",
       "5:5",
       {"unknown field 'modle' in stage 1", "did you mean 'model'?"}},
      {"StageUnknownProcessor",
       "name: j\noutput: o\ninput: {list: [a]}\nstages:\n  - processor: "
       "spec_all\n  - processor: nope\n",
       "6:16",
       {"unknown processor 'nope'"}},
      {"LaterStageWithoutInputModel",
       "name: j\noutput: o\ninput: {list: [a]}\nstages:\n  - processor: "
       "spec_all\n  - {processor: spec_all, model: standalone}\n",
       "6:34",
       {"a stage after the first reads the files of the one before"}},
      {"FirstStageSplit",
       "name: j\noutput: o\ninput: {files: [x]}\nstages:\n  - processor: "
       "spec_all\n    split: bytes:1MiB\n",
       "6:5",
       {"field 'split'", "give its split as 'input.split'"}},
      {"FirstStageModelTakesNoInput",
       "name: j\noutput: o\ninput: {list: [a]}\nstages:\n  - {processor: "
       "spec_all, model: standalone}\n",
       "3:1",
       {"model 'standalone' takes no input"}},
      {"ThenWithoutChain",
       Job("then:\n  - processor: spec_all\n"),
       "3:1",
       {"field 'then'", "needs 'chain'"}},
      {"ChainPlaceInconsistent",
       Job("model: map\ninput: {list: [a]}\nchain: {stage: 1, of: 3}\nthen:\n"
           "  - processor: spec_all\n"),
       "5:8",
       {"field 'chain'", "of = stage + 1"}},
  };
}

INSTANTIATE_TEST_SUITE_P(JobSpec, ParseErrorTest,
                         ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.test_name);
                         });

TEST(ParseJobSpecTest, ErrorsUseTheSourceName) {
  RegisterTestProcessors();
  StatusOr<JobSpec> spec = ParseJobSpec("name: j\n", "jobs/nightly.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(),
            "jobs/nightly.yaml:1:1: missing required field 'processor'");
}

TEST(ParseJobSpecTest, ProcessorFactoryFailuresAreInternal) {
  for (const char* name : {"spec_throws", "spec_null"}) {
    StatusOr<JobSpec> spec =
        Parse("name: j\nprocessor: " + std::string(name) + "\n");
    ASSERT_FALSE(spec.ok()) << name;
    EXPECT_EQ(spec.status().code(), StatusCode::kInternal) << spec.status();
    EXPECT_NE(spec.status().message().find(name), std::string::npos);
  }
}

TEST(ParseJobSpecTest, AliasBombIsBounded) {
  // 10 levels of 10 references: 10^10 leaves if followed naively.
  std::string yaml = Job("params:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    yaml += "  l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += (k ? ", " : "") + prev;
    yaml += "]\n";
  }
  StatusOr<JobSpec> spec = Parse(yaml);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spec.status().message().find("params: too many values"),
            std::string::npos)
      << spec.status();
}

// ---------------------------------------------------------------------------
// Happy paths.

TEST(ParseJobSpecTest, AllFields) {
  StatusOr<JobSpec> spec = Parse(R"(# nightly scan
name: scan-orders
key: orders-2026-11-21
processor: spec_all
model: mapreduce
input:
  range: {start: -10, end: 1000000, step: 1000}
params:
  top: 10
  db: {path: x.db, "timeout": 1.50}
  cols: [a, b]
retry: {max_attempts: 5, backoff: 250ms}
timeout: 2m
output: out/
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "scan-orders");
  EXPECT_EQ(spec->key, "orders-2026-11-21");
  EXPECT_EQ(spec->processor, "spec_all");
  EXPECT_EQ(spec->model, Model::kMapReduce);
  EXPECT_EQ(spec->input_kind, JobSpec::InputKind::kRange);
  EXPECT_EQ(spec->range.start, -10);
  EXPECT_EQ(spec->range.end, 1000000);
  EXPECT_EQ(spec->range.step, 1000);
  EXPECT_TRUE(spec->list.empty());
  EXPECT_EQ(spec->params.values(), (Values{{"top", "10"},
                                           {"db.path", "x.db"},
                                           {"db.timeout", "1.50"},
                                           {"cols.0", "a"},
                                           {"cols.1", "b"}}));
  EXPECT_EQ(spec->retry.max_attempts, 5);
  EXPECT_EQ(spec->retry.backoff, std::chrono::milliseconds(250));
  EXPECT_EQ(spec->timeout, std::chrono::minutes(2));
  EXPECT_EQ(spec->output, "out/");
}

TEST(ParseJobSpecTest, Defaults) {
  StatusOr<JobSpec> spec = Parse("name: j\nprocessor: spec_all\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->key, "");
  EXPECT_EQ(spec->model, Model::kStandalone);
  EXPECT_EQ(spec->input_kind, JobSpec::InputKind::kNone);
  EXPECT_TRUE(spec->params.values().empty());
  EXPECT_EQ(spec->retry.max_attempts, 3);
  EXPECT_EQ(spec->retry.backoff, std::chrono::seconds(1));
  EXPECT_EQ(spec->timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(spec->output, "");
  EXPECT_EQ(spec->InputTaskCount(), 0);
}

TEST(ParseJobSpecTest, ModelDefaultsToMapWithInput) {
  StatusOr<JobSpec> spec = Parse(Job("input: {list: [a, b]}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model, Model::kMap);
  EXPECT_EQ(spec->list, (std::vector<std::string>{"a", "b"}));
  // A map-only processor then works without naming the model.
  spec = Parse("name: j\nprocessor: spec_map_only\ninput: {list: [a]}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
}

TEST(ParseJobSpecTest, RangeStepDefaultsToOne) {
  StatusOr<JobSpec> spec = Parse(Job("input: {range: {start: 3, end: 5}}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->range.step, 1);
  EXPECT_EQ(spec->InputTaskCount(), 2);
}

TEST(ParseJobSpecTest, PartialRetryKeepsOtherDefault) {
  StatusOr<JobSpec> spec = Parse(Job("retry: {backoff: 0ms}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->retry.max_attempts, 3);
  EXPECT_EQ(spec->retry.backoff, std::chrono::milliseconds(0));
  spec = Parse(Job("retry: {max_attempts: 1000}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->retry.max_attempts, 1000);
  EXPECT_EQ(spec->retry.backoff, std::chrono::seconds(1));
}

TEST(ParseJobSpecTest, Durations) {
  struct Case {
    const char* text;
    int64_t ms;
  };
  // A bare 0 needs no unit: it is zero in all of them.
  for (const Case& c : std::vector<Case>{{"0", 0},
                                         {"0s", 0},
                                         {"0ms", 0},
                                         {"250ms", 250},
                                         {"2s", 2000},
                                         {"1m", 60000},
                                         {"3h", 3 * 3600 * 1000},
                                         {"'90s'", 90000}}) {
    StatusOr<JobSpec> spec = Parse(Job("timeout: " + std::string(c.text)));
    ASSERT_TRUE(spec.ok()) << c.text << ": " << spec.status();
    EXPECT_EQ(spec->timeout.count(), c.ms) << c.text;
  }
}

TEST(ParseJobSpecTest, ParamsFlattening) {
  StatusOr<JobSpec> spec = Parse(Job(R"(params:
  plain: yes
  quoted: "007"
  tilde: "~"
  empty:
  nested: {a: {b: {c: deep}}}
  seq: [x, {k: v}, [y, z]]
  emptymap: {}
  anchor: &v shared
  alias: *v
  multi: |
    line1
    line2
)"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->params.values(), (Values{{"plain", "yes"},
                                           {"quoted", "007"},
                                           {"tilde", "~"},
                                           {"empty", ""},
                                           {"nested.a.b.c", "deep"},
                                           {"seq.0", "x"},
                                           {"seq.1.k", "v"},
                                           {"seq.2.0", "y"},
                                           {"seq.2.1", "z"},
                                           {"anchor", "shared"},
                                           {"alias", "shared"},
                                           {"multi", "line1\nline2\n"}}));
  EXPECT_EQ(spec->params.BoolOr("plain", false), true);
  EXPECT_EQ(spec->params.IntOr("quoted", 0), 7);
}

TEST(ParseJobSpecTest, ListItemsKeepText) {
  StatusOr<JobSpec> spec =
      Parse(Job("input:\n  list: [\"\", ' a ', 1.0, \"x,y\"]\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->list, (std::vector<std::string>{"", " a ", "1.0", "x,y"}));
  EXPECT_EQ(spec->InputPayload(0), "");
  EXPECT_EQ(spec->InputPayload(3), "x,y");
}

TEST(ParseJobSpecTest, AcceptsExtremeValidRanges) {
  StatusOr<JobSpec> spec =
      Parse(Job("input: {range: {start: -9223372036854775808, end: "
                "9223372036854775807, step: 3}}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->range.start, kMin);
  EXPECT_EQ(spec->range.end, kMax);
  // ceil((2^64 - 1) / 3) pages.
  EXPECT_EQ(spec->InputTaskCount(), 6148914691236517205);
}

// ---------------------------------------------------------------------------
// Round trip.

TEST(JobSpecTest, FilesInput) {
  auto spec =
      Parse(Job("model: map\ninput: {files: [\"a/*.gz\", b.log], "
                "split: \"bytes:64MiB\"}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->input_kind, JobSpec::InputKind::kFiles);
  EXPECT_EQ(spec->files, (std::vector<std::string>{"a/*.gz", "b.log"}));
  EXPECT_EQ(spec->split_bytes, 64 << 20);
  EXPECT_EQ(spec->InputTaskCount(), 0);  // expanded at submit time
  spec = Parse(Job("input: {files: x.log}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model, Model::kMap);  // the default with an input
  EXPECT_EQ(spec->split_bytes, 0);
}

TEST(JobSpecToYamlTest, RoundTripsParsedSpecs) {
  const std::vector<std::string> docs = {
      Job(""),
      R"(name: "scan: orders #1"
key: "~"
processor: spec_all
model: mapreduce
input:
  range: {start: -9223372036854775808, end: 9223372036854775807, step: 1000}
params:
  top: 10
  "dotted.key": yes
  db: {path: "x.db", opts: {wal: true, cache: "-1"}}
  cols: [a, "b c", [nested, list], {k: v}]
  text: "line1\nline2\ttab \"quoted\" \\ back"
  null_value:
  unicode: "h\u00e9llo \u2028 \U0001F600"
  spaces: "  padded  "
retry: {max_attempts: 1000, backoff: 1h}
timeout: 90s
output: "out dir/"
)",
      Job("model: map\ninput:\n  list: [\"\", yes, '1.0', \"a,b\", \"#x\", "
          "\"- dash\", \"? q\", \"{not: a map}\"]\n"),
      Job("model: broadcast\ntimeout: 0s\nretry: {backoff: 0ms}\n"),
      Job("model: mapreduce\ninput:\n  files: [\"logs/**/*.gz\", "
          "\"a b/[x]?.log\"]\n  split: \"bytes:64MiB\"\n"),
      Job("input: {files: \"one/*.txt\", split: file}\n"),
  };
  for (const std::string& doc : docs) {
    StatusOr<JobSpec> first = Parse(doc);
    ASSERT_TRUE(first.ok()) << first.status() << "\n" << doc;
    std::string yaml = JobSpecToYaml(*first);
    StatusOr<JobSpec> second = Parse(yaml);
    ASSERT_TRUE(second.ok()) << second.status() << "\n" << yaml;
    SCOPED_TRACE(yaml);
    ExpectSameSpec(*first, *second);
    // And the rendering is a fixed point.
    EXPECT_EQ(JobSpecToYaml(*second), yaml);
  }
}

TEST(JobSpecStagesTest, StagesBecomeTheFirstStageWithTheRestUnderThen) {
  StatusOr<JobSpec> spec = Parse(R"(name: chain
key: nightly
input: {files: ["in/*.txt"], split: "bytes:1MiB"}
output: out
retry: {max_attempts: 5}
timeout: 1m
stages:
  - processor: spec_all
    model: mapreduce
    params: {top: 3}
  - processor: spec_map_only
    split: "bytes:2MiB"
    retry: {max_attempts: 2}
  - processor: spec_all
    name: last one
    timeout: 5s
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "chain [1/3]");
  EXPECT_EQ(spec->key, "nightly");
  EXPECT_EQ(spec->processor, "spec_all");
  EXPECT_EQ(spec->model, Model::kMapReduce);
  EXPECT_EQ(spec->files, std::vector<std::string>{"in/*.txt"});
  EXPECT_EQ(spec->split_bytes, int64_t{1} << 20);
  EXPECT_EQ(spec->output, "out/_stages/1");
  EXPECT_EQ(spec->retry.max_attempts, 5);
  EXPECT_EQ(spec->timeout, std::chrono::minutes(1));
  EXPECT_EQ(spec->params.values(), (Values{{"top", "3"}}));
  EXPECT_EQ(spec->stage, 1);
  EXPECT_EQ(spec->stages, 3);
  ASSERT_EQ(spec->then.size(), 2u);
  const JobSpec& second = spec->then[0];
  EXPECT_EQ(second.name, "chain [2/3]");
  EXPECT_EQ(second.processor, "spec_map_only");
  EXPECT_EQ(second.model, Model::kMap);  // the default: it reads files
  EXPECT_EQ(second.split_bytes, int64_t{2} << 20);
  EXPECT_EQ(second.output, "out/_stages/2");
  EXPECT_EQ(second.retry.max_attempts, 2);
  EXPECT_EQ(second.timeout, std::chrono::minutes(1));
  EXPECT_TRUE(second.key.empty());
  const JobSpec& third = spec->then[1];
  EXPECT_EQ(third.name, "last one");
  EXPECT_EQ(third.output, "out");
  EXPECT_EQ(third.timeout, std::chrono::seconds(5));

  // Stored and read back, then the next stage made from it, stored and
  // read back again: nothing of the chain is lost on the way.
  StatusOr<JobSpec> stored = Parse(JobSpecToYaml(*spec));
  ASSERT_TRUE(stored.ok()) << stored.status() << "\n" << JobSpecToYaml(*spec);
  ExpectSameSpec(*spec, *stored);
  const JobSpec next =
      NextStage(*stored, 41, {"out/_stages/1/part-00000", "out/_stages/1/x"});
  EXPECT_EQ(next.key, NextStageKey(41));
  EXPECT_EQ(next.after_job, 41);
  EXPECT_EQ(next.stage, 2);
  EXPECT_EQ(next.input_kind, JobSpec::InputKind::kFiles);
  EXPECT_EQ(next.files.size(), 2u);
  EXPECT_EQ(next.split_bytes, int64_t{2} << 20);
  ASSERT_EQ(next.then.size(), 1u);
  StatusOr<JobSpec> next_stored = Parse(JobSpecToYaml(next));
  ASSERT_TRUE(next_stored.ok()) << next_stored.status() << "\n"
                                << JobSpecToYaml(next);
  ExpectSameSpec(next, *next_stored);
  const JobSpec last = NextStage(*next_stored, 42, {});
  EXPECT_EQ(last.stage, 3);
  EXPECT_TRUE(last.then.empty());
  StatusOr<JobSpec> last_stored = Parse(JobSpecToYaml(last));
  ASSERT_TRUE(last_stored.ok()) << last_stored.status();
  ExpectSameSpec(last, *last_stored);
  EXPECT_EQ(last_stored->name, "last one");
}

TEST(JobSpecStagesTest, OneStageIsAPlainJobWithItsOwnOutput) {
  StatusOr<JobSpec> spec =
      Parse("name: one\noutput: out\nstages:\n  - processor: spec_all\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "one");
  EXPECT_EQ(spec->output, "out");
  EXPECT_EQ(spec->model, Model::kStandalone);
  EXPECT_TRUE(spec->then.empty());
}

TEST(JobSpecToYamlTest, RoundTripsNestedAndListParams) {
  StatusOr<JobSpec> spec =
      Parse(Job("params: {db: {path: x.db, port: 5432}, cols: [a, b], "
                "grid: [[1, 2], [3]]}\n"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->params.values().size(), 7u);
  StatusOr<JobSpec> again = Parse(JobSpecToYaml(*spec));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->params.values(), spec->params.values());
  EXPECT_EQ(again->params.String("grid.0.1").value(), "2");
  EXPECT_EQ(again->params.String("db.path").value(), "x.db");
}

TEST(JobSpecToYamlTest, RoundTripsSpecBuiltInCxx) {
  RegisterTestProcessors();
  JobSpec spec;
  spec.name = "built";
  spec.key = "k:1";
  spec.processor = "spec_all";
  spec.model = Model::kMap;
  spec.input_kind = JobSpec::InputKind::kRange;
  spec.range = {0, 10, 3};
  spec.params = Params(Values{{"a.b", "1"}, {"a.c", "x y"}, {"z", ""}});
  spec.retry = {7, std::chrono::milliseconds(1500)};
  spec.timeout = std::chrono::milliseconds(1);
  spec.output = "/tmp/out";
  StatusOr<JobSpec> back = ParseJobSpec(JobSpecToYaml(spec), "store");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << JobSpecToYaml(spec);
  ExpectSameSpec(spec, *back);
}

TEST(JobSpecToYamlTest, RoundTripsRandomStrings) {
  // Random valid UTF-8 drawn from the characters YAML treats specially.
  const std::vector<std::string> atoms = {
      "a",      " ",      ":",         "#",    "-",    "?",      ",",
      "[",      "]",      "{",         "}",    "\"",   "'",      "\\",
      "\n",     "\t",     "\r",        "~",    "&",    "*",      "!",
      "|",      ">",      "%",         "@",    "`",    ".",      "0",
      "1e3",    "null",   "yes",       "\x01", "\x7f", "\u00e9", "\u0085",
      "\u2028", "\ufeff", "\U0001F600"};
  std::mt19937 rng(42);
  auto random_string = [&] {
    std::string s;
    int n = static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) s += atoms[rng() % atoms.size()];
    return s;
  };
  RegisterTestProcessors();
  for (int iter = 0; iter < 300; ++iter) {
    JobSpec spec;
    spec.name = "n" + random_string();
    spec.key = random_string();
    spec.processor = "spec_all";
    spec.model = Model::kMap;
    spec.input_kind = JobSpec::InputKind::kList;
    spec.list = {random_string(), random_string()};
    spec.params = Params(Values{{"k" + random_string(), random_string()}});
    spec.output = random_string();
    std::string yaml = JobSpecToYaml(spec);
    StatusOr<JobSpec> back = ParseJobSpec(yaml, "random");
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
    SCOPED_TRACE(yaml);
    ExpectSameSpec(spec, *back);
    if (HasFailure()) return;
  }
}

// ---------------------------------------------------------------------------
// Input expansion.

JobSpec RangeSpec(int64_t start, int64_t end, int64_t step) {
  JobSpec spec;
  spec.input_kind = JobSpec::InputKind::kRange;
  spec.range = {start, end, step};
  return spec;
}

struct PagesCase {
  const char* test_name;
  JobSpec spec;
  int64_t count;
  std::vector<std::pair<int64_t, std::string>> payloads;  // index, payload
};

void PrintTo(const PagesCase& c, std::ostream* os) { *os << c.test_name; }

class InputPagesTest : public ::testing::TestWithParam<PagesCase> {};

TEST_P(InputPagesTest, CountAndPayloads) {
  const PagesCase& c = GetParam();
  EXPECT_EQ(c.spec.InputTaskCount(), c.count);
  for (const auto& [i, payload] : c.payloads) {
    EXPECT_EQ(c.spec.InputPayload(i), payload) << "page " << i;
  }
}

std::vector<PagesCase> PagesCases() {
  JobSpec list;
  list.input_kind = JobSpec::InputKind::kList;
  list.list = {"a", "b", "c"};
  return {
      {"LastPartialPage",
       RangeSpec(0, 10, 3),
       4,
       {{0, "0,3"}, {1, "3,6"}, {2, "6,9"}, {3, "9,10"}}},
      {"ExactPages", RangeSpec(0, 10, 5), 2, {{0, "0,5"}, {1, "5,10"}}},
      {"StepLargerThanRange", RangeSpec(0, 3, 100), 1, {{0, "0,3"}}},
      {"UnitStep", RangeSpec(7, 9, 1), 2, {{0, "7,8"}, {1, "8,9"}}},
      {"NegativeIds",
       RangeSpec(-5, 5, 4),
       3,
       {{0, "-5,-1"}, {1, "-1,3"}, {2, "3,5"}}},
      {"WholeInt64Range",
       RangeSpec(kMin, kMax, kMax),
       3,
       {{0, "-9223372036854775808,-1"},
        {1, "-1,9223372036854775806"},
        {2, "9223372036854775806,9223372036854775807"}}},
      {"NearInt64Max",
       RangeSpec(kMax - 10, kMax, 4),
       3,
       {{0, "9223372036854775797,9223372036854775801"},
        {2, "9223372036854775805,9223372036854775807"}}},
      {"HugeStepNoOverflow",
       RangeSpec(kMax - 1, kMax, kMax),
       1,
       {{0, "9223372036854775806,9223372036854775807"}}},
      {"HugeCountSaturates",
       RangeSpec(kMin, 1, 1),
       kMax,
       {{0, "-9223372036854775808,-9223372036854775807"}}},
      {"ManyPages",
       RangeSpec(0, 1'000'000'000'000, 1000),
       1'000'000'000,
       {{999'999'999, "999999999000,1000000000000"}}},
      {"InvalidStepIsEmpty", RangeSpec(0, 10, 0), 0, {{0, ""}}},
      {"InvalidRangeIsEmpty", RangeSpec(10, 0, 1), 0, {{0, ""}}},
      {"OutOfRangeIndex", RangeSpec(0, 10, 3), 4, {{-1, ""}, {4, ""}}},
      {"List", list, 3, {{0, "a"}, {2, "c"}, {3, ""}}},
      {"NoInput", JobSpec(), 0, {{0, ""}}},
  };
}

INSTANTIATE_TEST_SUITE_P(JobSpec, InputPagesTest,
                         ::testing::ValuesIn(PagesCases()),
                         [](const ::testing::TestParamInfo<PagesCase>& info) {
                           return std::string(info.param.test_name);
                         });

TEST(InputPagesTest, PagesTileTheRange) {
  const JobSpec spec = RangeSpec(-17, 1000, 7);
  int64_t next = -17;
  for (int64_t i = 0; i < spec.InputTaskCount(); ++i) {
    StatusOr<IdRange> page = IdRange::Parse(spec.InputPayload(i));
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->start, next);
    EXPECT_GT(page->end, page->start);
    EXPECT_LE(page->end - page->start, 7);
    next = page->end;
  }
  EXPECT_EQ(next, 1000);
}

// ---------------------------------------------------------------------------
// IdRange and model names.

TEST(IdRangeTest, PayloadRoundTrip) {
  for (IdRange r :
       {IdRange{0, 0}, IdRange{-5, 5}, IdRange{kMin, kMax}, IdRange{42, 43}}) {
    StatusOr<IdRange> back = IdRange::Parse(r.ToPayload());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->start, r.start);
    EXPECT_EQ(back->end, r.end);
  }
  EXPECT_EQ((IdRange{-1, 9}).ToPayload(), "-1,9");
}

TEST(IdRangeTest, RejectsMalformedPayloads) {
  for (const char* payload :
       {"", ",", "1", "1,", ",1", "a,b", "5,3", "1,2,3", " 1,2", "1, 2", "1,2 ",
        "+1,2", "0x1,2", "1.5,2", "99999999999999999999,1"}) {
    StatusOr<IdRange> r = IdRange::Parse(payload);
    ASSERT_FALSE(r.ok()) << "'" << payload << "'";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("'" + std::string(payload) + "'"),
              std::string::npos)
        << r.status();
  }
}

TEST(ModelTest, NamesRoundTrip) {
  const std::pair<Model, const char*> names[] = {
      {Model::kStandalone, "standalone"},
      {Model::kBroadcast, "broadcast"},
      {Model::kMap, "map"},
      {Model::kMapReduce, "mapreduce"}};
  for (const auto& [model, name] : names) {
    EXPECT_EQ(ModelName(model), name);
    EXPECT_EQ(ParseModel(name), model);
  }
  EXPECT_EQ(ParseModel("Map"), std::nullopt);
  EXPECT_EQ(ParseModel(""), std::nullopt);
  EXPECT_EQ(ParseModel("map "), std::nullopt);
}

}  // namespace
}  // namespace taskgrid
