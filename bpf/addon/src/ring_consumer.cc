#include "ring_consumer.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
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

}  // namespace

// A batch of records for JS, or (bytes null) the end of a final drain, whose `done` callback is then called.
struct RingBatch {
  std::vector<uint8_t>* bytes;
  std::shared_ptr<PendingBytes> pending;
  Napi::FunctionReference* done = nullptr;
};

RingConsumer::RingConsumer(Napi::Env env, int mapFd, Napi::Function onBatch, size_t maxPendingBytes, RecordTrim trim,
                           int drainIntervalMs)
    : mapFd_(mapFd), maxPendingBytes_(maxPendingBytes), trim_(trim), drainIntervalMs_(drainIntervalMs) {
  deliver_ = Napi::ThreadSafeFunction::New(env, onBatch, "sightline-ring-consumer", 0, 1);
}

RingConsumer::~RingConsumer() { Stop(); }

std::string RingConsumer::Start() {
  std::string mapped = MapRing();
  if (!mapped.empty()) return mapped;
  // The thread waits on the ring and on an eventfd, so Stop() wakes it at once instead of after a drain interval.
  stopEvent_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  waitFd_ = epoll_create1(EPOLL_CLOEXEC);
  if (stopEvent_ < 0 || waitFd_ < 0) return std::string("eventfd/epoll_create1 failed: ") + strerror(errno);
  epoll_event ringReady{};
  ringReady.events = EPOLLIN;
  ringReady.data.fd = mapFd_;
  epoll_event stopRequested{};
  stopRequested.events = EPOLLIN;
  stopRequested.data.fd = stopEvent_;
  if (epoll_ctl(waitFd_, EPOLL_CTL_ADD, mapFd_, &ringReady) != 0 || epoll_ctl(waitFd_, EPOLL_CTL_ADD, stopEvent_, &stopRequested) != 0) {
    return std::string("epoll_ctl failed: ") + strerror(errno);
  }
  thread_ = std::thread([this] { PollLoop(); });
  return "";
}

// On the JS thread: the poll thread reads the ring once more, hands over what it found, then `done` is called after
// every batch before it, and the thread ends. A graceful stop so loses nothing that was already captured.
void RingConsumer::Finish(Napi::Function done) {
  if (!thread_.joinable() || finishRequested_.load()) {
    done.Call({});
    return;
  }
  // `done_` before the flag: the thread reads it once it sees the flag (both sequentially consistent).
  done_ = new Napi::FunctionReference(Napi::Persistent(done));
  finishRequested_.store(true);
  WakeThread();
}

void RingConsumer::WakeThread() {
  uint64_t one = 1;
  if (write(stopEvent_, &one, sizeof(one)) < 0) {
    // Cannot fail for a counter this far from its maximum; the thread would still look at its next drain.
  }
}

// Written here rather than taken from libbpf's ring_buffer: libbpf maps the data area twice in a row, so a record
// that wraps around the end reads as one piece, and the kernel maps every page of both views at mmap time: a
// 16 MiB ring made 32 MiB of the sensor's resident memory. Each record is copied into a batch anyway, so a record
// that wraps is copied in two pieces from a single view. The protocol is the kernel's (kernel/bpf/ringbuf.c): a
// consumer position page (read-write), then the producer position page and the data (read-only); each record has
// an 8-byte header whose length word carries BUSY (still being written) and DISCARD bits, and records are 8-aligned.
std::string RingConsumer::MapRing() {
  bpf_map_info info{};
  __u32 infoLength = sizeof(info);
  if (bpf_obj_get_info_by_fd(mapFd_, &info, &infoLength) != 0) return std::string("bpf_obj_get_info_by_fd failed: ") + strerror(errno);
  if (info.type != BPF_MAP_TYPE_RINGBUF) return "the map is not a BPF ring buffer";
  pageSize_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  dataBytes_ = info.max_entries;
  void* consumer = mmap(nullptr, pageSize_, PROT_READ | PROT_WRITE, MAP_SHARED, mapFd_, 0);
  if (consumer == MAP_FAILED) return std::string("mmap of the ring's consumer page failed: ") + strerror(errno);
  consumerPage_ = consumer;
  void* producer = mmap(nullptr, pageSize_ + dataBytes_, PROT_READ, MAP_SHARED, mapFd_, static_cast<off_t>(pageSize_));
  if (producer == MAP_FAILED) return std::string("mmap of the ring's data failed: ") + strerror(errno);
  producerPage_ = producer;
  consumerPos_ = static_cast<unsigned long*>(consumerPage_);
  producerPos_ = static_cast<const unsigned long*>(producerPage_);
  data_ = static_cast<const uint8_t*>(producerPage_) + pageSize_;
  return "";
}

void RingConsumer::UnmapRing() {
  if (producerPage_) munmap(producerPage_, pageSize_ + dataBytes_);
  if (consumerPage_) munmap(consumerPage_, pageSize_);
  producerPage_ = consumerPage_ = nullptr;
}

// `length` bytes from `offset` in the data area, continuing at its start past the end.
void RingConsumer::CopyOut(size_t offset, size_t length, uint8_t* to) const {
  size_t first = std::min(length, dataBytes_ - offset);
  std::memcpy(to, data_ + offset, first);
  if (first < length) std::memcpy(to + first, data_, length - first);
}

// Reads every record submitted so far, as libbpf's ring_buffer__consume does; stops at a record still being written.
void RingConsumer::Drain() {
  const size_t mask = dataBytes_ - 1;
  unsigned long consumed = __atomic_load_n(consumerPos_, __ATOMIC_ACQUIRE);
  for (;;) {
    unsigned long produced = __atomic_load_n(producerPos_, __ATOMIC_ACQUIRE);
    if (consumed >= produced) return;
    while (consumed < produced) {
      const auto* header = reinterpret_cast<const uint32_t*>(data_ + (consumed & mask));
      uint32_t word = __atomic_load_n(header, __ATOMIC_ACQUIRE);
      if (word & BPF_RINGBUF_BUSY_BIT) return;
      uint32_t length = word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      if (!(word & BPF_RINGBUF_DISCARD_BIT)) AppendRecord((consumed + BPF_RINGBUF_HDR_SZ) & mask, length);
      consumed += (length + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
      __atomic_store_n(consumerPos_, consumed, __ATOMIC_RELEASE);
    }
  }
}

void RingConsumer::Stop() {
  if (thread_.joinable()) {
    stopRequested_ = true;
    pending_->drained.notify_all();
    WakeThread();
    thread_.join();
  }
  // Never delivered (the thread was stopped first): released here, on the JS thread.
  delete done_;
  done_ = nullptr;
  if (waitFd_ >= 0) close(waitFd_);
  if (stopEvent_ >= 0) close(stopEvent_);
  waitFd_ = stopEvent_ = -1;
  UnmapRing();
  if (deliver_) {
    deliver_.Release();
    deliver_ = Napi::ThreadSafeFunction();
  }
  delete batch_;
  batch_ = nullptr;
}

// Each record is framed as a 4-byte little-endian length followed by the record, so JS can walk a batch.
void RingConsumer::AppendRecord(size_t offset, size_t size) {
  if (!batch_) {
    batch_ = new std::vector<uint8_t>();
    batch_->reserve(64 * 1024);
  }
  if (trim_.enabled && size >= trim_.headerBytes) {
    uint32_t valid;
    CopyOut((offset + trim_.lengthOffset) & (dataBytes_ - 1), 4, reinterpret_cast<uint8_t*>(&valid));
    if (valid <= size - trim_.headerBytes) size = trim_.headerBytes + valid;
  }
  uint32_t length = static_cast<uint32_t>(size);
  size_t at = batch_->size();
  batch_->resize(at + 4 + size);
  std::memcpy(batch_->data() + at, &length, 4);
  CopyOut(offset, size, batch_->data() + at + 4);
  if (batch_->size() >= kBatchFlushBytes) FlushBatch();
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
    while (!stopRequested_ && pending_->bytes.load() > 0 && pending_->bytes.load() + bytes->size() > maxPendingBytes_) {
      paused = true;
      pending_->drained.wait_for(lock, std::chrono::milliseconds(kBackpressureWaitMs));
    }
    if (paused) {
      pausedMicros_ += std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - pausedAt).count();
    }
  }

  pending_->bytes += bytes->size();
  auto* batch = new RingBatch{bytes, pending_};
  napi_status status = deliver_.NonBlockingCall(batch, &RingConsumer::CallJs);
  if (status != napi_ok) {
    pending_->bytes -= bytes->size();
    delete bytes;
    delete batch;
  }
}

// On the JS thread, for each batch (or the end of a final drain) in the order the poll thread handed them over.
void RingConsumer::CallJs(Napi::Env env, Napi::Function callback, RingBatch* batch) {
  std::vector<uint8_t>* bytes = batch->bytes;
  Napi::FunctionReference* done = batch->done;
  if (bytes) {
    batch->pending->bytes -= bytes->size();
    batch->pending->drained.notify_all();
  }
  delete batch;
  if (env == nullptr || callback.IsEmpty()) {
    delete bytes;  // the consumer was torn down while this batch waited
    delete done;
    return;
  }
  if (done) {
    done->Call({});
    delete done;
  }
  if (!bytes) return;
  size_t size = bytes->size();
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
}

void RingConsumer::PollLoop() {
  epoll_event events[2];
  while (!stopRequested_) {
    int ready = epoll_wait(waitFd_, events, 2, drainIntervalMs_);
    if (ready < 0 && errno != EINTR) break;
    if (stopRequested_) break;
    // Woken by BPF, by the timer or by Finish, the ring is read the same way: everything submitted so far.
    Drain();
    FlushBatch();
    if (finishRequested_) {
      // After the last batch in the queue to JS: `done` is called once all of them were handed over.
      auto* end = new RingBatch{nullptr, pending_, done_};
      done_ = nullptr;
      if (deliver_.NonBlockingCall(end, &RingConsumer::CallJs) != napi_ok) {
        // The thread-safe function is closing: Stop() releases `done` on the JS thread.
        done_ = end->done;
        delete end;
      }
      return;
    }
  }
}
