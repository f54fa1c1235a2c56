// Runs one thread (the sensor's JS thread) in the idle scheduling class while it keeps up, and in the normal class
// while it waits for a CPU. Written here: no library switches a thread's class on its measured run-queue waits.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

class IdleFirstScheduler : public Napi::ObjectWrap<IdleFirstScheduler> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new IdleFirstScheduler({ tid, intervalMs, maxWaitMs }): tid a thread of this process
  explicit IdleFirstScheduler(const Napi::CallbackInfo& info);
  ~IdleFirstScheduler();

 private:
  // start(): '' once the thread is watched, else why it is not (the thread keeps its normal class).
  Napi::Value Start(const Napi::CallbackInfo& info);
  // stop(): the thread back in the normal class (its nice value kept); the watcher ends.
  Napi::Value Stop(const Napi::CallbackInfo& info);
  // stats(): { promotions, idleMillis, normalMillis, idle }
  Napi::Value Stats(const Napi::CallbackInfo& info);

  void Watch(int schedstatFd, int statFd, int processStatFd);
  void StopWatching();

  int tid_ = 0;
  int intervalMs_ = 20;
  int maxWaitMs_ = 10;
  std::thread watcher_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopRequested_ = false;
  std::atomic<bool> idle_{false};
  std::atomic<uint64_t> promotions_{0};
  std::atomic<uint64_t> idleMicros_{0};
  std::atomic<uint64_t> normalMicros_{0};
};
