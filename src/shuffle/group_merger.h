// Internal to src/shuffle: a k-way merge (binary heap) of sorted record
// cursors that yields groups of equal keys, used by both the map side
// (merging spills) and the reduce side (merging segments).
//
// Order: keys in byte order; within a key, the values of cursor 0 first,
// then cursor 1, ..., each cursor's in its own order — so merging runs in
// the order they were written keeps equal keys in emit order.
//
// Thread-safety: used by one thread at a time.
#ifndef TASKGRID_SHUFFLE_GROUP_MERGER_H_
#define TASKGRID_SHUFFLE_GROUP_MERGER_H_

#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid::shuffle::internal {

// A forward cursor over sorted records.
class RecordCursor {
 public:
  virtual ~RecordCursor() = default;
  // Moves to the next record (the first, on the first call): true if
  // there is one.
  virtual StatusOr<bool> Next() = 0;
  // The current record, valid until the next call to Next.
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
};

class GroupMerger {
 public:
  // Borrows the cursors, which must outlive the merger and not have been
  // advanced yet. Their index in `cursors` breaks ties between equal keys.
  explicit GroupMerger(std::vector<RecordCursor*> cursors);

  // Starts the next group, skipping what is left of the current one: true
  // and *key set (valid until the next NextGroup) if there is one.
  StatusOr<bool> NextGroup(std::string_view* key);
  // The next value of the current group: true and *value set (valid until
  // the next NextValue or NextGroup), false after the group's last value.
  StatusOr<bool> NextValue(std::string_view* value);

 private:
  bool Less(int a, int b) const;  // heap order: a sorts after b
  Status Advance(int c);          // Next() on cursor c, back in the heap

  std::vector<RecordCursor*> cursors_;
  std::vector<int> heap_;
  bool primed_ = false;
  int pending_ = -1;  // cursor whose value was returned and not advanced
  std::string key_;   // the current group's key
  bool in_group_ = false;
};

}  // namespace taskgrid::shuffle::internal

#endif  // TASKGRID_SHUFFLE_GROUP_MERGER_H_
