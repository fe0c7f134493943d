// JobSpec: what to run. Written in YAML (ParseJobSpec) or built in C++.
//
//   name: scan-orders          # required
//   key: orders-2026-11-21     # optional idempotency key
//   processor: noop            # required, a registered processor name
//   model: map                 # standalone | broadcast | map | mapreduce |
//                              # shuffle
//   input:                     # optional; exactly one of:
//     range: {start: 0, end: 1000000, step: 1000}
//     # list: [a, b, c]
//     # files: ["logs/**/*.log.gz"]   # globs: *, ?, [..], ** (any depth)
//     # split: file | "bytes:64MiB"   # with files: cut plain files by bytes
//   params: {any: thing}       # free map, see Params
//   retry: {max_attempts: 3, backoff: 1s}
//   timeout: 30s               # per task attempt; absent = no limit
//   output: out/               # directory
//   partitions: 4              # shuffle only: reduce partitions (default 1)
//   memory: 256MiB             # shuffle only: per-task memory budget
//   range_splits: [6b, 7a]     # shuffle only: range partitioning split
//                              # points, hex; set at submit by processors
//                              # that sample their input (sort)
//
// Chained stages: instead of processor/model/params (and the shuffle
// fields), a list of stages, each run on the files the one before it
// committed (Fourinone's chain of foremen). `input` feeds the first stage,
// `output` receives the last; stage K of N (K < N) commits into
// OUTPUT/_stages/K unless it names its own `output`. `retry` and `timeout`
// at the top are every stage's defaults.
//
//   stages:
//     - processor: wordcount   # fields: name, processor, model, params,
//       model: shuffle         # retry, timeout, output, partitions,
//       partitions: 4          # memory, range_splits, split (the split of
//     - processor: sort        # its input: stages after the first only)
//       model: shuffle
//       params: {format: lines}
//
// Each stage runs as a job of its own ("NAME [K/N]"), created by the master
// when the stage before it succeeds (before that one is marked succeeded,
// so a crash cannot lose the link) with the key "taskgrid:after:J" (J: the
// job before it). The store keeps a stage's spec with the stages still to
// come under `then:` and its place under `chain: {stage: K, of: N,
// after: J}`; both are written by JobSpecToYaml and read back.
//
// Durations are an integer with a unit: ms, s, m or h ("250ms", "2s").
//
// Thread-safety: a plain value type.
#ifndef TASKGRID_JOB_SPEC_H_
#define TASKGRID_JOB_SPEC_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/params.h"
#include "taskgrid/status.h"

namespace taskgrid {

enum class Model { kStandalone, kBroadcast, kMap, kMapReduce, kShuffle };

std::string_view ModelName(Model m);
std::optional<Model> ParseModel(std::string_view name);

// Half-open id range [start, end) cut into pages of `step`.
struct RangeInput {
  int64_t start = 0;
  int64_t end = 0;
  int64_t step = 1;
};

// One page of a range input; a range task's payload is "START,END".
struct IdRange {
  int64_t start = 0;
  int64_t end = 0;
  std::string ToPayload() const;
  // InvalidArgument when `payload` is not "START,END" with START <= END.
  static StatusOr<IdRange> Parse(std::string_view payload);
};

struct RetryPolicy {
  int max_attempts = 3;  // total attempts, >= 1
  // Delay before attempt 2; doubles for each later attempt, capped at 60s.
  std::chrono::milliseconds backoff{1000};
};

struct JobSpec {
  enum class InputKind { kNone, kRange, kList, kFiles };

  std::string name;
  std::string key;  // empty = no idempotency key
  std::string processor;
  Model model = Model::kStandalone;
  InputKind input_kind = InputKind::kNone;
  RangeInput range;
  std::vector<std::string> list;
  std::vector<std::string> files;  // glob patterns, expanded at submit time
  int64_t split_bytes = 0;         // 0: one task per file
  Params params;
  RetryPolicy retry;
  std::chrono::milliseconds timeout{0};  // 0 = no limit
  std::string output;
  // Shuffle: reduce partitions, the memory budget of each map and reduce
  // task (buffers beyond it spill to disk), and range split points
  // (partitions - 1 sorted keys; empty = hash partitioning).
  int partitions = 1;
  int64_t memory_bytes = 256 << 20;
  std::vector<std::string> range_splits;
  // Chained stages (see above): the stages that run after this one, in
  // order; this one's place in its chain (1-based; 0 = not chained), the
  // chain's length, and the job whose output this one reads (0 = none).
  std::vector<JobSpec> then;
  int stage = 0;
  int stages = 0;
  int64_t after_job = 0;

  // Number of first-level tasks a range or list input expands to (0 when
  // there is no input; 0 for files, which SubmitJob expands from the disk).
  int64_t InputTaskCount() const;
  // Payload of first-level task `i` (0 <= i < InputTaskCount()).
  std::string InputPayload(int64_t i) const;
};

// Parses and validates a YAML job spec. `source_name` (usually the file
// name) prefixes every error, with the line and column of the offending
// field: "job.yaml:4:3: unknown field 'procesor' (did you mean 'processor'?)".
// Returns InvalidArgument for: YAML syntax errors, unknown fields, wrong
// types, a missing name or processor, an unknown processor (checked against
// the global ProcessorRegistry) or model, a processor that does not support
// the model, an empty or malformed range, a bad duration, and an input given
// to a model that takes none.
StatusOr<JobSpec> ParseJobSpec(std::string_view yaml,
                               std::string_view source_name);

// The spec of the stage after `done` (which ran as job `done_job` and
// committed `files`, paths under its output): the first of `done.then`,
// reading `files`, with the rest of the chain. Precondition: done.then is
// not empty.
JobSpec NextStage(const JobSpec& done, int64_t done_job,
                  std::vector<std::string> files);

// The idempotency key of the stage that runs after job `job_id`.
std::string NextStageKey(int64_t job_id);

// Parses a byte size: "123", "64KiB", "64MiB", "1GiB" (powers of 1024),
// "64KB", "64MB", "1GB" (powers of 1000), optionally with "B". InvalidArgument
// for anything else, zero, or a size beyond int64.
StatusOr<int64_t> ParseByteSize(std::string_view text);

// Renders `spec` as YAML that ParseJobSpec reads back to an equal spec; this
// is what the state store keeps, so `resume` needs nothing but the store.
std::string JobSpecToYaml(const JobSpec& spec);

}  // namespace taskgrid

#endif  // TASKGRID_JOB_SPEC_H_
