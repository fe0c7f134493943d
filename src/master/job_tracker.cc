#include "master/job_tracker.h"

#include <algorithm>
#include <string>

#include "taskgrid/processor.h"

namespace taskgrid {

JobTracker::JobTracker(int64_t job_id, Model model, RetryPolicy retry,
                       WriteSink* sink, Clock* clock)
    : job_id_(job_id),
      model_(model),
      retry_(retry),
      sink_(sink),
      clock_(clock) {
  worker_index_[""] = 0;
}

void JobTracker::SetKnownWorkers(const std::vector<std::string>& workers) {
  for (const auto& w : workers) known_workers_[w] = true;
}

JobTracker::Slot* JobTracker::Find(int64_t id) {
  if (id < 1 || id > static_cast<int64_t>(slots_.size())) return nullptr;
  Slot& s = slots_[id - 1];
  return s.loaded ? &s : nullptr;
}

const JobTracker::Slot* JobTracker::Find(int64_t id) const {
  return const_cast<JobTracker*>(this)->Find(id);
}

uint16_t JobTracker::StageIndex(const std::string& stage) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i] == stage) return static_cast<uint16_t>(i);
  }
  stages_.push_back(stage);
  stage_counts_.emplace_back();
  return static_cast<uint16_t>(stages_.size() - 1);
}

uint16_t JobTracker::WorkerIndex(const std::string& worker) {
  auto it = worker_index_.find(worker);
  if (it != worker_index_.end()) return it->second;
  workers_.push_back(worker);
  auto idx = static_cast<uint16_t>(workers_.size() - 1);
  worker_index_[worker] = idx;
  return idx;
}

void JobTracker::Count(uint16_t stage, TaskState state, int64_t delta) {
  counts_[static_cast<size_t>(state)] += delta;
  stage_counts_[stage][static_cast<size_t>(state)] += delta;
}

void JobTracker::SetState(Slot& s, TaskState to) {
  Count(s.stage, s.state, -1);
  Count(s.stage, to, 1);
  s.state = to;
}

int64_t JobTracker::NewTask(uint16_t stage, int64_t parent,
                            std::string payload) {
  const int64_t id = next_id_++;
  slots_.resize(id);
  Slot& s = slots_[id - 1];
  s.stage = stage;
  s.loaded = true;
  s.state = TaskState::kPending;
  s.payload = std::move(payload);
  Count(stage, TaskState::kPending, 1);
  TaskRecord rec;
  rec.job_id = job_id_;
  rec.id = id;
  rec.parent_id = parent;
  rec.stage = stages_[stage];
  rec.payload = s.payload;
  sink_->AddTask(std::move(rec));
  Enqueue(id, s);
  return id;
}

void JobTracker::Enqueue(int64_t id, const Slot& s) {
  if (stages_[s.stage] == kReduceStage && model_ != Model::kShuffle) {
    return;  // the master runs it
  }
  if (stages_[s.stage] == kBroadcastStage && known_workers_.count(s.payload)) {
    pinned_[WorkerIndex(s.payload)].push_back(id);
    return;
  }
  ready_.push_back(id);
}

JobTracker::Slot& JobTracker::Load(TaskRecord&& t) {
  if (t.id >= next_id_) next_id_ = t.id + 1;
  if (static_cast<int64_t>(slots_.size()) < t.id) slots_.resize(t.id);
  Slot& s = slots_[t.id - 1];
  s.payload = std::move(t.payload);
  s.attempt = t.attempt;
  s.attempt_base = t.attempt_base;
  s.stage = StageIndex(t.stage);
  s.worker = WorkerIndex(t.worker);
  s.started_ms = t.started_ms;
  s.loaded = true;
  s.state = t.state;
  if (stages_[s.stage] == kReduceStage) reduce_id_ = t.id;
  return s;
}

void JobTracker::AddTerminalReduce(TaskRecord&& task) { Load(std::move(task)); }

void JobTracker::AddLoadedTask(TaskRecord&& t) {
  Slot& s = Load(std::move(t));  // moves the payload only
  Count(s.stage, s.state, 1);
  switch (t.state) {
    case TaskState::kDispatched:
    case TaskState::kRunning:
      // Its master died mid-attempt: run it again, as attempt+1.
      SetState(s, TaskState::kPending);
      WriteUpdate(t.id, s, s.attempt, 0, "", "");
      Enqueue(t.id, s);
      break;
    case TaskState::kPending:
      Enqueue(t.id, s);
      break;
    case TaskState::kFailed: {
      int64_t wait = std::max<int64_t>(0, t.not_before_ms - clock_->NowMs());
      if (stages_[s.stage] == kReduceStage && model_ != Model::kShuffle) break;
      delayed_.emplace(clock_->MonoMs() + wait, t.id);
      break;
    }
    default:
      break;
  }
}

void JobTracker::AddTerminalCounts(const std::vector<StageCounts>& stages) {
  for (const StageCounts& c : stages) {
    const uint16_t stage = StageIndex(c.stage);
    for (TaskState st :
         {TaskState::kSucceeded, TaskState::kDead, TaskState::kCancelled}) {
      Count(stage, st, c.counts[static_cast<size_t>(st)]);
    }
  }
}

int64_t JobTracker::TotalOf(const TaskCounts& c) {
  int64_t n = 0;
  for (int64_t k : c) n += k;
  return n;
}

std::vector<StageCounts> JobTracker::stage_counts() const {
  std::vector<StageCounts> out;
  for (size_t i = 0; i < stages_.size(); ++i) {
    out.push_back(StageCounts{stages_[i], stage_counts_[i]});
  }
  return out;
}

void JobTracker::SetNextTaskId(int64_t next_id) {
  next_id_ = std::max(next_id_, next_id);
  if (static_cast<int64_t>(slots_.size()) < next_id_ - 1) {
    slots_.resize(next_id_ - 1);
  }
}

void JobTracker::WriteUpdate(int64_t id, const Slot& s,
                             int32_t expected_attempt, int64_t finished_ms,
                             std::string result, std::string error,
                             int64_t not_before_ms) {
  TaskUpdate u;
  u.id = id;
  u.expected_attempt = expected_attempt;
  u.state = s.state;
  u.attempt = s.attempt;
  u.worker = workers_[s.worker];
  u.started_ms = s.started_ms;
  u.finished_ms = finished_ms;
  u.not_before_ms = not_before_ms;
  u.result = std::move(result);
  u.error = std::move(error);
  sink_->UpdateTask(std::move(u));
}

void JobTracker::Log(int64_t id, int32_t attempt, LogLevel level,
                     std::string line) {
  LogLine l;
  l.task_id = id;
  l.attempt = attempt;
  l.ts_ms = clock_->NowMs();
  l.level = static_cast<int>(level);
  l.line = std::move(line);
  sink_->AddLog(std::move(l));
}

std::vector<TaskAssignment> JobTracker::Dispatch(const std::string& worker,
                                                 int max) {
  std::vector<TaskAssignment> out;
  const int64_t mono = clock_->MonoMs();
  while (!delayed_.empty() && delayed_.top().first <= mono) {
    ready_.push_back(delayed_.top().second);
    delayed_.pop();
  }
  const uint16_t widx = WorkerIndex(worker);
  auto pinned = pinned_.find(widx);
  const int64_t now = clock_->NowMs();
  while (static_cast<int>(out.size()) < max) {
    std::deque<int64_t>* q = nullptr;
    if (pinned != pinned_.end() && !pinned->second.empty()) {
      q = &pinned->second;
    } else if (!ready_.empty()) {
      q = &ready_;
    } else {
      break;
    }
    const int64_t id = q->front();
    q->pop_front();
    Slot* s = Find(id);
    // Skip ids that were cancelled or rerun while queued.
    if (s == nullptr ||
        (s->state != TaskState::kPending && s->state != TaskState::kFailed)) {
      continue;
    }
    if (model_ == Model::kShuffle && stages_[s->stage] == kReduceStage &&
        !MapsAllSucceeded()) {
      held_.push_back(id);  // a lost map output is being made again
      continue;
    }
    const int32_t expected = s->attempt;
    ++s->attempt;
    s->worker = widx;
    s->started_ms = now;
    SetState(*s, TaskState::kDispatched);
    ++attempts_dispatched_;
    WriteUpdate(id, *s, expected, 0, "", "");
    TaskAssignment a;
    a.ref = {job_id_, id, s->attempt};
    a.stage = stages_[s->stage];
    a.payload = s->payload;
    out.push_back(std::move(a));
  }
  return out;
}

int64_t JobTracker::MsUntilNextRetry() const {
  if (delayed_.empty()) return -1;
  return std::max<int64_t>(0, delayed_.top().first - clock_->MonoMs());
}

void JobTracker::MarkStarted(const TaskRef& ref) {
  Slot* s = Find(ref.task_id);
  if (s == nullptr || s->attempt != ref.attempt ||
      s->state != TaskState::kDispatched) {
    return;
  }
  SetState(*s, TaskState::kRunning);
  WriteUpdate(ref.task_id, *s, s->attempt, 0, "", "");
}

int64_t JobTracker::Backoff(int32_t used_attempts) const {
  int64_t ms = retry_.backoff.count();
  for (int i = 1; i < used_attempts && ms < 60'000; ++i) ms *= 2;
  return std::min<int64_t>(ms, 60'000);
}

bool JobTracker::OnReport(TaskReport&& r, const std::string& worker) {
  const int64_t id = r.ref.task_id;
  Slot* s = Find(id);
  if (s == nullptr || s->attempt != r.ref.attempt || !IsInFlight(s->state)) {
    ++rejected_reports_;
    if (s != nullptr) {
      Log(id, r.ref.attempt, LogLevel::kWarn,
          "rejected report of attempt " + std::to_string(r.ref.attempt) +
              " from " + worker + ": current attempt is " +
              std::to_string(s->attempt) + " (" +
              std::string(TaskStateName(s->state)) + ")");
    }
    return false;
  }
  for (auto& l : r.logs) {
    LogLine line;
    line.task_id = id;
    line.attempt = r.ref.attempt;
    line.ts_ms = l.ts_ms;
    line.level = l.level;
    line.line = std::move(l.line);
    sink_->AddLog(std::move(line));
  }
  const int32_t attempt = s->attempt;
  if (r.started_ms != 0) s->started_ms = r.started_ms;
  const int64_t finished = r.finished_ms != 0 ? r.finished_ms : clock_->NowMs();
  if (r.ok && !r.children.empty() && model_ != Model::kMap &&
      model_ != Model::kMapReduce) {
    r.ok = false;
    r.error = "Map() is only allowed under the map and mapreduce models";
  }
  if (r.ok) {
    // Children first: the parent's success and its children land in the
    // same batch, so a crash never keeps one without the other.
    const int64_t parent = id;
    for (auto& group : r.children) {
      const uint16_t stage = StageIndex(group.stage);
      for (auto& payload : group.payloads) {
        NewTask(stage, parent, std::move(payload));
      }
    }
    if (!r.children.empty()) sink_->SetNextTaskId(next_id_);
    for (auto& f : r.outputs) {
      sink_->AddOutput(OutputRecord{id, attempt, std::move(f)});
    }
    s = Find(id);  // slots_ may have moved
    SetState(*s, TaskState::kSucceeded);
    WriteUpdate(id, *s, attempt, finished, std::move(r.result), "");
    if (model_ == Model::kShuffle && stages_[s->stage] != kReduceStage) {
      MaybeStartShuffleReduce();
    }
    return true;
  }
  ++failed_attempts_;
  const int32_t used = attempt - s->attempt_base;
  Log(id, attempt, LogLevel::kError,
      "attempt " + std::to_string(attempt) + " failed: " + r.error);
  if (used >= retry_.max_attempts) {
    SetState(*s, TaskState::kDead);
    Log(id, attempt, LogLevel::kError,
        "dead after " + std::to_string(used) + " attempt(s)");
    WriteUpdate(id, *s, attempt, finished, "", std::move(r.error));
    return true;
  }
  SetState(*s, TaskState::kFailed);
  const int64_t wait = Backoff(used);
  WriteUpdate(id, *s, attempt, finished, "", std::move(r.error),
              clock_->NowMs() + wait);
  if (stages_[s->stage] != kReduceStage || model_ == Model::kShuffle) {
    delayed_.emplace(clock_->MonoMs() + wait, id);
  }
  return true;
}

TaskCounts JobTracker::WorkerCounts() const {
  TaskCounts c = counts_;
  if (model_ == Model::kShuffle) return c;
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i] != kReduceStage) continue;
    for (size_t k = 0; k < c.size(); ++k) c[k] -= stage_counts_[i][k];
  }
  return c;
}

namespace {

bool NoneUnfinished(const TaskCounts& c) {
  return c[static_cast<size_t>(TaskState::kPending)] == 0 &&
         c[static_cast<size_t>(TaskState::kDispatched)] == 0 &&
         c[static_cast<size_t>(TaskState::kRunning)] == 0 &&
         c[static_cast<size_t>(TaskState::kFailed)] == 0;
}

}  // namespace

bool JobTracker::AllTerminal() const { return NoneUnfinished(WorkerCounts()); }

bool JobTracker::AllSucceeded() const {
  const TaskCounts c = WorkerCounts();
  return NoneUnfinished(c) && c[static_cast<size_t>(TaskState::kDead)] == 0 &&
         c[static_cast<size_t>(TaskState::kCancelled)] == 0;
}

bool JobTracker::MapsAllSucceeded() const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i] == kReduceStage) continue;
    const TaskCounts& c = stage_counts_[i];
    if (c[static_cast<size_t>(TaskState::kSucceeded)] != TotalOf(c)) {
      return false;
    }
  }
  return true;
}

void JobTracker::RefundAttempt(int64_t task_id) {
  Slot* s = Find(task_id);
  if (s != nullptr && s->attempt_base < s->attempt) ++s->attempt_base;
}

bool JobTracker::IsCurrentAttempt(const TaskRef& ref) const {
  const Slot* s = Find(ref.task_id);
  return s != nullptr && s->attempt == ref.attempt && IsInFlight(s->state);
}

bool JobTracker::ShuffleReduceDone() const {
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i] != kReduceStage) continue;
    const TaskCounts& c = stage_counts_[i];
    return TotalOf(c) > 0 &&
           c[static_cast<size_t>(TaskState::kSucceeded)] == TotalOf(c);
  }
  return false;
}

const std::string& JobTracker::stage_of(int64_t task_id) const {
  static const std::string kUnknown;
  const Slot* s = Find(task_id);
  return s != nullptr && s->loaded ? stages_[s->stage] : kUnknown;
}

void JobTracker::MaybeStartShuffleReduce() {
  if (model_ != Model::kShuffle || !MapsAllSucceeded()) return;
  if (!shuffle_reduce_created_) {
    // A resumed job may have them already (loaded), or not yet.
    for (size_t i = 0; i < stages_.size(); ++i) {
      if (stages_[i] == kReduceStage && TotalOf(stage_counts_[i]) > 0) {
        shuffle_reduce_created_ = true;
      }
    }
  }
  if (!shuffle_reduce_created_) {
    shuffle_reduce_created_ = true;
    const uint16_t stage = StageIndex(kReduceStage);
    for (int p = 0; p < shuffle_partitions_; ++p) {
      NewTask(stage, 0, std::to_string(p));
    }
    sink_->SetNextTaskId(next_id_);
  }
  for (int64_t id : held_) ready_.push_back(id);
  held_.clear();
}

bool JobTracker::RerunLostMapOutput(const TaskRecord& task,
                                    const std::string& why) {
  if (task.id < 1 || task.id >= next_id_ || task.stage == kReduceStage) {
    return false;
  }
  Slot& s = slots_[task.id - 1];
  if (!s.loaded) {
    // Counted as succeeded at load, never loaded: take it from the store.
    s.loaded = true;
    s.state = TaskState::kSucceeded;
    s.stage = StageIndex(task.stage);
    s.payload = task.payload;
    s.attempt = task.attempt;
  }
  if (s.state != TaskState::kSucceeded) return false;
  // Not the task's fault: a fresh retry budget.
  s.attempt_base = s.attempt;
  SetState(s, TaskState::kPending);
  Log(task.id, s.attempt, LogLevel::kWarn, why + ": running it again");
  WriteUpdate(task.id, s, s.attempt, 0, "", "");
  Enqueue(task.id, s);
  return true;
}

int64_t JobTracker::EnsureReduceTask() {
  if (reduce_id_ != 0) return reduce_id_;
  reduce_id_ = NewTask(StageIndex(kReduceStage), 0, "");
  sink_->SetNextTaskId(next_id_);
  return reduce_id_;
}

TaskRef JobTracker::StartReduce() {
  Slot* s = Find(reduce_id_);
  const int32_t expected = s->attempt;
  ++s->attempt;
  s->worker = WorkerIndex(kMasterWorkerId);
  s->started_ms = clock_->NowMs();
  SetState(*s, TaskState::kRunning);
  ++attempts_dispatched_;
  WriteUpdate(reduce_id_, *s, expected, 0, "", "");
  return {job_id_, reduce_id_, s->attempt};
}

void JobTracker::CancelAll() {
  const int64_t now = clock_->NowMs();
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.loaded || IsTerminal(s.state)) continue;
    SetState(s, TaskState::kCancelled);
    WriteUpdate(static_cast<int64_t>(i + 1), s, s.attempt, now, "",
                "job cancelled");
  }
  ready_.clear();
  pinned_.clear();
  while (!delayed_.empty()) delayed_.pop();
}

std::vector<TaskRef> JobTracker::InFlightOf(const std::string& worker) const {
  std::vector<TaskRef> out;
  auto it = worker_index_.find(worker);
  if (it == worker_index_.end()) return out;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.loaded && IsInFlight(s.state) && s.worker == it->second) {
      out.push_back({job_id_, static_cast<int64_t>(i + 1), s.attempt});
    }
  }
  return out;
}

void JobTracker::ForgetWorker(const std::string& worker) {
  known_workers_.erase(worker);
  auto idx = worker_index_.find(worker);
  if (idx == worker_index_.end()) return;
  auto q = pinned_.find(idx->second);
  if (q == pinned_.end()) return;
  ready_.insert(ready_.end(), q->second.begin(), q->second.end());
  pinned_.erase(q);
}

int64_t JobTracker::total_tasks() const {
  int64_t n = 0;
  for (int64_t c : counts_) n += c;
  return n;
}

int32_t JobTracker::attempt_of(int64_t task_id) const {
  const Slot* s = Find(task_id);
  return s ? s->attempt : -1;
}

int32_t JobTracker::used_attempts_of(int64_t task_id) const {
  const Slot* s = Find(task_id);
  return s ? s->attempt - s->attempt_base : 0;
}

TaskState JobTracker::state_of(int64_t task_id) const {
  const Slot* s = Find(task_id);
  return s ? s->state : TaskState::kCancelled;
}

}  // namespace taskgrid
