// Drains one BPF ring buffer on its own thread and hands batches of records to JavaScript.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

// Shared with batches still queued for the JS thread, which may run after the consumer is gone.
struct PendingBytes {
  std::atomic<size_t> bytes{0};
  std::mutex mutex;
  std::condition_variable drained;
};

// Where a record says how much of it is valid, for records reserved larger than their content.
struct RecordTrim {
  bool enabled = false;
  uint32_t headerBytes = 0;
  uint32_t lengthOffset = 0;
};

// How often a ring is read when BPF has not woken its thread, unless the caller says otherwise.
constexpr int kDefaultDrainIntervalMs = 20;

struct RingBatch;

class RingConsumer {
 public:
  // maxPendingBytes bounds what waits for the JS thread; past it the poll thread pauses, the kernel ring fills,
  // and the BPF side counts every record it cannot place, so nothing is lost without a count.
  // drainIntervalMs: how often the ring is read when BPF has not woken the thread.
  RingConsumer(Napi::Env env, int mapFd, Napi::Function onBatch, size_t maxPendingBytes, RecordTrim trim = RecordTrim(),
               int drainIntervalMs = kDefaultDrainIntervalMs);
  ~RingConsumer();

  std::string Start();
  // On the JS thread: read the ring once more, hand everything over, then call `done` (after every batch before it).
  void Finish(Napi::Function done);
  void Stop();
  uint64_t PausedMicros() const { return pausedMicros_.load(); }

 private:
  std::string MapRing();
  void UnmapRing();
  void CopyOut(size_t offset, size_t length, uint8_t* to) const;
  void Drain();
  void AppendRecord(size_t offset, size_t size);
  void PollLoop();
  void WakeThread();
  static void CallJs(Napi::Env env, Napi::Function callback, struct RingBatch* batch);
  void FlushBatch();

  int mapFd_;
  size_t maxPendingBytes_;
  RecordTrim trim_;
  int drainIntervalMs_;
  size_t pageSize_ = 0;
  size_t dataBytes_ = 0;
  void* consumerPage_ = nullptr;
  void* producerPage_ = nullptr;
  unsigned long* consumerPos_ = nullptr;
  const unsigned long* producerPos_ = nullptr;
  const uint8_t* data_ = nullptr;
  int waitFd_ = -1;
  int stopEvent_ = -1;
  Napi::ThreadSafeFunction deliver_;
  std::thread thread_;
  std::atomic<bool> stopRequested_{false};
  std::atomic<bool> finishRequested_{false};
  // Set on the JS thread by Finish before the thread is woken; handed to JS with the end of the final drain.
  Napi::FunctionReference* done_ = nullptr;
  std::vector<uint8_t>* batch_ = nullptr;
  std::shared_ptr<PendingBytes> pending_ = std::make_shared<PendingBytes>();
  std::atomic<uint64_t> pausedMicros_{0};
};
