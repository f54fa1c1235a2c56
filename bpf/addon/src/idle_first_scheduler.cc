// Idle-first scheduling of the sensor's JS thread. While that thread runs in the normal class, the CPU it holds is a
// CPU the scheduler places no woken workload thread on; on a busy node the workloads then queue behind each other on
// the CPUs left (measured: the bench's client waited four times as long, behind its own server, not behind the
// sensor). In the idle class its CPU counts as free and any woken thread takes it at once. But the idle class alone
// starves the sensor on a CPU that never idles, so a watcher thread (normal class, nice 0) reads the JS thread's
// run-queue time every interval: a thread that waited longer than maxWaitMs in one interval is moved to the normal
// class, and moved back once it ran and waited less than four fifths of an interval (it slept: it has caught up).
// Promoting on less (a thread merely runnable at two looks) measured no better than not switching at all
// (docs/benchmarks.md).
#include "idle_first_scheduler.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace {

constexpr uint64_t kHardlyRunNs = 1000000;
constexpr int kStarvedLooks = 3;
// Looks while the thread rests (each costs ~0.1 ms here: 20 ms looks made the watcher 0.4% of a core on an idle node).
constexpr int kRestingIntervalMs = 100;
// New threads are looked for every few looks, not at each.
constexpr uint64_t kLooksPerThreadCount = 5;

int SetClass(int tid, int policy) {
  sched_param param{};
  return sched_setscheduler(tid, policy, &param) == 0 ? 0 : errno;
}

// Threads of the process (/proc/self/stat, field 20): a thread the JS thread starts while in the idle class is in the
// idle class too (SCHED_RESET_ON_FORK does not undo that class), so a change in the count is a reason to look.
long ThreadCount(int fd) {
  char text[512];
  ssize_t length = pread(fd, text, sizeof(text) - 1, 0);
  if (length <= 0) return -1;
  text[length] = '\0';
  const char* field = strrchr(text, ')');
  // After the name: state is field 3, num_threads field 20.
  for (int index = 2; field != nullptr && index < 20; index++) field = strchr(field + 1, ' ');
  return field == nullptr ? -1 : strtol(field + 1, nullptr, 10);
}

// Every thread but `except` back in the normal class: the libuv pool, workers, whatever the JS thread started.
void NormaliseOtherThreads(int except) {
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return;
  while (dirent* entry = readdir(tasks)) {
    int tid = atoi(entry->d_name);
    if (tid > 0 && tid != except && sched_getscheduler(tid) == SCHED_IDLE) SetClass(tid, SCHED_OTHER);
  }
  closedir(tasks);
}

// Whether a thread at this process's nice value may leave the idle class again (RLIMIT_NICE or CAP_SYS_NICE): tried
// on a thread of its own, which exits either way, never on the thread that would stay stuck.
std::string TryLeavingIdleClass() {
  std::string failure;
  std::thread probe([&failure] {
    if (int error = SetClass(0, SCHED_IDLE)) {
      failure = std::string("cannot enter the idle class: ") + strerror(error);
      return;
    }
    if (int error = SetClass(0, SCHED_OTHER)) failure = std::string("cannot leave the idle class: ") + strerror(error);
  });
  probe.join();
  return failure;
}

// Leaving the idle class, and the watcher's nice 0, are allowed up to RLIMIT_NICE (20 - nice); raised here where the
// process may (CAP_SYS_RESOURCE: the DaemonSet has it; with CAP_SYS_NICE, as root usually has, it is not needed).
void RaiseNiceLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NICE, &limit) != 0) return;
  rlim_t needed = 20;
  if (limit.rlim_cur >= needed) return;
  limit.rlim_cur = needed;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) limit.rlim_max = needed;
  setrlimit(RLIMIT_NICE, &limit);
}

// Run and run-queue nanoseconds of a thread so far (/proc/.../schedstat: "run wait timeslices").
bool ReadSchedstat(int fd, uint64_t* run, uint64_t* wait) {
  char text[96];
  ssize_t length = pread(fd, text, sizeof(text) - 1, 0);
  if (length <= 0) return false;
  text[length] = '\0';
  return sscanf(text, "%" SCNu64 " %" SCNu64, run, wait) == 2;
}

// Whether the thread is runnable (or running): its state in /proc/.../stat, after the parenthesised name.
bool IsRunnable(int fd) {
  char text[256];
  ssize_t length = pread(fd, text, sizeof(text) - 1, 0);
  if (length <= 0) return false;
  text[length] = '\0';
  const char* nameEnd = strrchr(text, ')');
  return nameEnd != nullptr && nameEnd[1] == ' ' && nameEnd[2] == 'R';
}

uint64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Napi::Function IdleFirstScheduler::Define(Napi::Env env) {
  return DefineClass(env, "IdleFirstScheduler",
                     {InstanceMethod("start", &IdleFirstScheduler::Start), InstanceMethod("stop", &IdleFirstScheduler::Stop),
                      InstanceMethod("stats", &IdleFirstScheduler::Stats)});
}

IdleFirstScheduler::IdleFirstScheduler(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IdleFirstScheduler>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "IdleFirstScheduler({ tid, intervalMs, maxWaitMs })").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object options = info[0].As<Napi::Object>();
  auto integer = [&](const char* name, int fallback) {
    Napi::Value value = options.Get(name);
    return value.IsNumber() ? value.As<Napi::Number>().Int32Value() : fallback;
  };
  tid_ = integer("tid", 0);
  intervalMs_ = integer("intervalMs", intervalMs_);
  maxWaitMs_ = integer("maxWaitMs", maxWaitMs_);
  if (tid_ <= 0 || intervalMs_ <= 0 || maxWaitMs_ <= 0 || maxWaitMs_ > intervalMs_) {
    Napi::RangeError::New(env, "IdleFirstScheduler: tid > 0, 0 < maxWaitMs <= intervalMs").ThrowAsJavaScriptException();
  }
}

IdleFirstScheduler::~IdleFirstScheduler() { StopWatching(); }

Napi::Value IdleFirstScheduler::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (watcher_.joinable()) return Napi::String::New(env, "");
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid_);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  uint64_t run = 0, wait = 0;
  if (fd < 0 || !ReadSchedstat(fd, &run, &wait)) {
    if (fd >= 0) close(fd);
    return Napi::String::New(env, std::string("cannot read ") + path + " (kernel without CONFIG_SCHED_INFO?)");
  }
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid_);
  int statFd = open(path, O_RDONLY | O_CLOEXEC);
  int processStatFd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (statFd < 0 || processStatFd < 0) {
    close(fd);
    if (statFd >= 0) close(statFd);
    if (processStatFd >= 0) close(processStatFd);
    return Napi::String::New(env, std::string("cannot read ") + path + " or /proc/self/stat");
  }
  RaiseNiceLimit();
  std::string failure = TryLeavingIdleClass();
  if (!failure.empty()) {
    close(fd);
    close(statFd);
    close(processStatFd);
    return Napi::String::New(env, failure);
  }
  stopRequested_ = false;
  // Started before the JS thread enters the idle class, which a new thread would inherit.
  watcher_ = std::thread([this, fd, statFd, processStatFd] {
    pthread_setname_np(pthread_self(), "sightline-sched");
    Watch(fd, statFd, processStatFd);
    close(fd);
    close(statFd);
    close(processStatFd);
  });
  if (int error = SetClass(tid_, SCHED_IDLE)) {
    StopWatching();
    return Napi::String::New(env, std::string("cannot enter the idle class: ") + strerror(error));
  }
  idle_ = true;
  return Napi::String::New(env, "");
}

void IdleFirstScheduler::Watch(int fd, int statFd, int processStatFd) {
  // At nice 0, so that a CPU kept busy by the workloads delays its look by microseconds, not by the long waits of a
  // nice-19 thread; it reads a small file or two per look. Where that is not allowed it keeps the sensor's nice value.
  setpriority(PRIO_PROCESS, 0, 0);
  uint64_t lastRun = 0, lastWait = 0;
  if (!ReadSchedstat(fd, &lastRun, &lastWait)) return;
  int starvedLooks = 0;
  uint64_t looks = 0;
  int intervalMs = intervalMs_;
  long threads = ThreadCount(processStatFd);
  auto windowStart = std::chrono::steady_clock::now();
  const uint64_t maxWaitNs = static_cast<uint64_t>(maxWaitMs_) * 1000000;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(intervalMs), [this] { return stopRequested_; })) {
    uint64_t run = 0, wait = 0;
    if (!ReadSchedstat(fd, &run, &wait)) break;  // the thread is gone
    uint64_t windowMicros = MicrosSince(windowStart);
    windowStart = std::chrono::steady_clock::now();
    uint64_t ranNs = run - lastRun, waitedNs = wait - lastWait;
    lastRun = run;
    lastWait = wait;
    if (++looks % kLooksPerThreadCount == 0) {
      long nowThreads = ThreadCount(processStatFd);
      if (nowThreads != threads) {
        threads = nowThreads;
        NormaliseOtherThreads(tid_);
      }
    }
    // The kernel adds a wait to the thread's run-queue time only once the wait ends: a thread never let on the CPU
    // shows none. Runnable at three looks in a row and hardly run between them counts as waiting too.
    bool hardlyRan = ranNs < kHardlyRunNs;
    starvedLooks = hardlyRan && IsRunnable(statFd) ? starvedLooks + 1 : 0;
    bool starved = starvedLooks >= kStarvedLooks;
    (idle_ ? idleMicros_ : normalMicros_) += windowMicros;
    if (idle_ && (waitedNs > maxWaitNs || starved)) {
      // Runnable and kept off the CPU: it has work the workloads leave it no room for.
      if (SetClass(tid_, SCHED_OTHER) == 0) {
        idle_ = false;
        promotions_++;
      }
    } else if (!idle_ && (ranNs + waitedNs) / 1000 < windowMicros * 8 / 10) {
      // It slept a fifth of the interval or more: it has caught up.
      if (SetClass(tid_, SCHED_IDLE) == 0) idle_ = true;
    }
    // Asleep in the idle class through a whole look (no traffic): look less often; at once again when it ran.
    intervalMs = idle_ && hardlyRan && waitedNs < kHardlyRunNs && starvedLooks == 0 ? kRestingIntervalMs : intervalMs_;
  }
  if (idle_ && SetClass(tid_, SCHED_OTHER) == 0) idle_ = false;
}

void IdleFirstScheduler::StopWatching() {
  if (!watcher_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopRequested_ = true;
  }
  wake_.notify_all();
  watcher_.join();
}

Napi::Value IdleFirstScheduler::Stop(const Napi::CallbackInfo& info) {
  StopWatching();
  return info.Env().Undefined();
}

Napi::Value IdleFirstScheduler::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("promotions", Napi::Number::New(env, static_cast<double>(promotions_.load())));
  stats.Set("idleMillis", Napi::Number::New(env, static_cast<double>(idleMicros_.load()) / 1000));
  stats.Set("normalMillis", Napi::Number::New(env, static_cast<double>(normalMicros_.load()) / 1000));
  stats.Set("idle", Napi::Boolean::New(env, idle_.load()));
  return stats;
}
