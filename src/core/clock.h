// Clock: all time in taskgrid goes through one of these, so tests of
// backoff and timeouts can run on a fake clock.
//
// Thread-safety: implementations are safe to call from any thread.
#ifndef TASKGRID_CORE_CLOCK_H_
#define TASKGRID_CORE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace taskgrid {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (for records people read).
  virtual int64_t NowMs() = 0;
  // Monotonic milliseconds (for timeouts and backoff).
  virtual int64_t MonoMs() = 0;

  // The process-wide real clock.
  static Clock* Real();
};

// A clock that moves only when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() override { return now_.load(); }
  int64_t MonoMs() override { return now_.load(); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace taskgrid

#endif  // TASKGRID_CORE_CLOCK_H_
