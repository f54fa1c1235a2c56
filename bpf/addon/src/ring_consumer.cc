#include "ring_consumer.h"

#include <bpf/libbpf.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace {
// A batch is handed over once it holds this much, so one busy poll does not build an unbounded buffer.
constexpr size_t kBatchFlushBytes = 1 << 20;
// How long the poll thread sleeps at a time while JS is behind, before it looks again.
constexpr int kBackpressureWaitMs = 20;

struct Batch {
  std::vector<uint8_t>* bytes;
  std::shared_ptr<PendingBytes> pending;
};
}  // namespace

RingConsumer::RingConsumer(Napi::Env env, int mapFd, Napi::Function onBatch, size_t maxPendingBytes, RecordTrim trim,
                           int drainIntervalMs)
    : mapFd_(mapFd), maxPendingBytes_(maxPendingBytes), trim_(trim), drainIntervalMs_(drainIntervalMs) {
  deliver_ = Napi::ThreadSafeFunction::New(env, onBatch, "sightline-ring-consumer", 0, 1);
}

RingConsumer::~RingConsumer() { Stop(); }

std::string RingConsumer::Start() {
  ring_ = ring_buffer__new(mapFd_, &RingConsumer::OnSample, this, nullptr);
  if (!ring_) return std::string("ring_buffer__new failed: ") + strerror(errno);
  // The thread waits on the ring's epoll and on an eventfd, so Stop() wakes it at once instead of after a drain
  // interval.
  stopEvent_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  waitFd_ = epoll_create1(EPOLL_CLOEXEC);
  if (stopEvent_ < 0 || waitFd_ < 0) return std::string("eventfd/epoll_create1 failed: ") + strerror(errno);
  epoll_event ringReady{};
  ringReady.events = EPOLLIN;
  ringReady.data.fd = ring_buffer__epoll_fd(ring_);
  epoll_event stopRequested{};
  stopRequested.events = EPOLLIN;
  stopRequested.data.fd = stopEvent_;
  if (epoll_ctl(waitFd_, EPOLL_CTL_ADD, ringReady.data.fd, &ringReady) != 0 || epoll_ctl(waitFd_, EPOLL_CTL_ADD, stopEvent_, &stopRequested) != 0) {
    return std::string("epoll_ctl failed: ") + strerror(errno);
  }
  running_ = true;
  thread_ = std::thread([this] { PollLoop(); });
  return "";
}

void RingConsumer::Stop() {
  if (running_.exchange(false)) {
    pending_->drained.notify_all();
    uint64_t one = 1;
    if (write(stopEvent_, &one, sizeof(one)) < 0) {
      // Cannot fail for a counter this far from its maximum; the thread would still stop at its next drain.
    }
    if (thread_.joinable()) thread_.join();
  }
  if (waitFd_ >= 0) close(waitFd_);
  if (stopEvent_ >= 0) close(stopEvent_);
  waitFd_ = stopEvent_ = -1;
  if (ring_) {
    ring_buffer__free(ring_);
    ring_ = nullptr;
  }
  if (deliver_) {
    deliver_.Release();
    deliver_ = Napi::ThreadSafeFunction();
  }
  delete batch_;
  batch_ = nullptr;
}

// Each record is framed as a 4-byte little-endian length followed by the record, so JS can walk a batch.
int RingConsumer::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingConsumer*>(ctx);
  if (!self->batch_) {
    self->batch_ = new std::vector<uint8_t>();
    self->batch_->reserve(64 * 1024);
  }
  if (self->trim_.enabled && size >= self->trim_.headerBytes) {
    uint32_t valid;
    std::memcpy(&valid, static_cast<const uint8_t*>(data) + self->trim_.lengthOffset, 4);
    if (valid <= size - self->trim_.headerBytes) size = self->trim_.headerBytes + valid;
  }
  uint32_t length = static_cast<uint32_t>(size);
  uint8_t prefix[4];
  std::memcpy(prefix, &length, 4);
  self->batch_->insert(self->batch_->end(), prefix, prefix + 4);
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  self->batch_->insert(self->batch_->end(), bytes, bytes + size);
  if (self->batch_->size() >= kBatchFlushBytes) self->FlushBatch();
  return 0;
}

void RingConsumer::FlushBatch() {
  if (!batch_ || batch_->empty()) return;
  std::vector<uint8_t>* bytes = batch_;
  batch_ = nullptr;

  {
    // Wait while JS is behind: the kernel ring keeps filling and BPF counts what does not fit.
    std::unique_lock<std::mutex> lock(pending_->mutex);
    auto pausedAt = std::chrono::steady_clock::now();
    bool paused = false;
    while (running_ && pending_->bytes.load() > 0 && pending_->bytes.load() + bytes->size() > maxPendingBytes_) {
      paused = true;
      pending_->drained.wait_for(lock, std::chrono::milliseconds(kBackpressureWaitMs));
    }
    if (paused) {
      pausedMicros_ += std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - pausedAt).count();
    }
  }

  pending_->bytes += bytes->size();
  auto* batch = new Batch{bytes, pending_};
  napi_status status = deliver_.NonBlockingCall(batch, [](Napi::Env env, Napi::Function callback, Batch* batch) {
    size_t size = batch->bytes->size();
    std::vector<uint8_t>* bytes = batch->bytes;
    batch->pending->bytes -= size;
    batch->pending->drained.notify_all();
    delete batch;
    if (env == nullptr || callback.IsEmpty()) {
      delete bytes;  // the consumer was torn down while this batch waited
      return;
    }
    // The Buffer points at the batch's memory; the vector is freed when JS lets go of the Buffer. V8 is told
    // about the memory, or it would not count it as pressure and batches would pile up between collections.
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes->capacity()));
    auto buffer = Napi::Buffer<uint8_t>::New(
        env, bytes->data(), size,
        [](Napi::Env finalizeEnv, uint8_t*, std::vector<uint8_t>* owned) {
          Napi::MemoryManagement::AdjustExternalMemory(finalizeEnv, -static_cast<int64_t>(owned->capacity()));
          delete owned;
        },
        bytes);
    callback.Call({buffer});
  });
  if (status != napi_ok) {
    pending_->bytes -= bytes->size();
    delete bytes;
    delete batch;
  }
}

void RingConsumer::PollLoop() {
  epoll_event events[2];
  while (running_) {
    int ready = epoll_wait(waitFd_, events, 2, drainIntervalMs_);
    if (ready < 0 && errno != EINTR) break;
    if (!running_) break;
    // Woken by BPF or by the timer, the ring is read the same way: everything submitted so far.
    if (ring_buffer__consume(ring_) < 0) break;
    FlushBatch();
  }
}
