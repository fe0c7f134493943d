#include "shuffle/group_merger.h"

#include <algorithm>
#include <utility>

#include "core/status_macros.h"

namespace taskgrid::shuffle::internal {

GroupMerger::GroupMerger(std::vector<RecordCursor*> cursors)
    : cursors_(std::move(cursors)) {
  heap_.reserve(cursors_.size());
}

bool GroupMerger::Less(int a, int b) const {
  // std::push_heap builds a max-heap; "less" here means "comes later".
  const int c = cursors_[a]->key().compare(cursors_[b]->key());
  return c > 0 || (c == 0 && a > b);
}

Status GroupMerger::Advance(int c) {
  ASSIGN_OR_RETURN(bool more, cursors_[c]->Next());
  if (more) {
    heap_.push_back(c);
    std::push_heap(heap_.begin(), heap_.end(),
                   [this](int a, int b) { return Less(a, b); });
  }
  return OkStatus();
}

StatusOr<bool> GroupMerger::NextValue(std::string_view* value) {
  if (!in_group_) return false;
  if (pending_ >= 0) {
    const int c = pending_;
    pending_ = -1;
    RETURN_IF_ERROR(Advance(c));
  }
  if (heap_.empty() || cursors_[heap_.front()]->key() != key_) {
    in_group_ = false;
    return false;
  }
  std::pop_heap(heap_.begin(), heap_.end(),
                [this](int a, int b) { return Less(a, b); });
  pending_ = heap_.back();
  heap_.pop_back();
  *value = cursors_[pending_]->value();
  return true;
}

StatusOr<bool> GroupMerger::NextGroup(std::string_view* key) {
  if (!primed_) {
    primed_ = true;
    for (int c = 0; c < static_cast<int>(cursors_.size()); ++c) {
      RETURN_IF_ERROR(Advance(c));
    }
  }
  std::string_view ignored;
  while (true) {
    ASSIGN_OR_RETURN(bool more, NextValue(&ignored));
    if (!more) break;
  }
  if (heap_.empty()) return false;
  key_.assign(cursors_[heap_.front()]->key());
  in_group_ = true;
  *key = key_;
  return true;
}

}  // namespace taskgrid::shuffle::internal
