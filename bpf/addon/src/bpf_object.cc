#include "bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdarg>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace {
// libbpf reports verifier and attach problems through its print callback; keep the tail to put into errors.
std::mutex logMutex;
std::string libbpfLog;

int CaptureLibbpfLog(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  vsnprintf(line, sizeof(line), format, args);
  std::lock_guard<std::mutex> lock(logMutex);
  libbpfLog += line;
  if (libbpfLog.size() > 16384) libbpfLog.erase(0, libbpfLog.size() - 16384);
  return 0;
}

std::string TakeLibbpfLog() {
  std::lock_guard<std::mutex> lock(logMutex);
  std::string out;
  out.swap(libbpfLog);
  return out;
}

Napi::Error SystemError(Napi::Env env, const std::string& what, int err) {
  std::string message = what + ": " + strerror(err < 0 ? -err : err);
  std::string log = TakeLibbpfLog();
  if (!log.empty()) message += "\n" + log;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err < 0 ? -err : err));
  return error;
}
// Sets `const volatile` globals of the object's .rodata before load, by name, so the verifier sees them as constants.
// Returns an error message, or "" on success.
std::string SetReadOnlyConstants(bpf_object* object, Napi::Object values) {
  bpf_map* rodata = nullptr;
  bpf_map* map;
  bpf_object__for_each_map(map, object) {
    const char* name = bpf_map__name(map);
    size_t length = strlen(name);
    if (length >= 7 && strcmp(name + length - 7, ".rodata") == 0) rodata = map;
  }
  const btf* types = bpf_object__btf(object);
  size_t dataBytes = 0;
  // Before load the initial value is libbpf's own writable copy of the section.
  auto* data = rodata ? static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(rodata, &dataBytes))) : nullptr;
  int sectionId = types ? btf__find_by_name_kind(types, ".rodata", BTF_KIND_DATASEC) : -1;
  if (!data || sectionId < 0) return "the BPF object has no .rodata section to set constants in";
  const btf_type* section = btf__type_by_id(types, sectionId);
  Napi::Array names = values.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string wanted = names.Get(i).As<Napi::String>();
    Napi::Value value = values.Get(wanted);
    if (!value.IsNumber()) return "constant " + wanted + " must be a number";
    const btf_var_secinfo* variable = btf_var_secinfos(section);
    bool found = false;
    for (uint16_t v = 0; v < btf_vlen(section); v++, variable++) {
      const btf_type* declared = btf__type_by_id(types, variable->type);
      if (wanted != btf__name_by_offset(types, declared->name_off)) continue;
      if (variable->offset + variable->size > dataBytes) return "constant " + wanted + " lies outside .rodata";
      uint64_t number = static_cast<uint64_t>(value.As<Napi::Number>().Int64Value());
      if (variable->size == 4) {
        uint32_t narrow = static_cast<uint32_t>(number);
        memcpy(data + variable->offset, &narrow, 4);
      } else if (variable->size == 8) {
        memcpy(data + variable->offset, &number, 8);
      } else {
        return "constant " + wanted + " is neither 4 nor 8 bytes wide";
      }
      found = true;
    }
    if (!found) return "the BPF object has no constant named " + wanted;
  }
  return "";
}
}  // namespace

Napi::Function BpfObject::Define(Napi::Env env) {
  libbpf_set_print(CaptureLibbpfLog);
  return DefineClass(env, "BpfObject",
                     {
                         InstanceMethod("attachTracepoints", &BpfObject::AttachTracepoints),
                         InstanceMethod("attachUprobe", &BpfObject::AttachUprobe),
                         InstanceMethod("attachUprobeSession", &BpfObject::AttachUprobeSession),
                         InstanceMethod("detach", &BpfObject::Detach),
                         InstanceMethod("writeArrayMap", &BpfObject::WriteArrayMap),
                         InstanceMethod("updateMapElement", &BpfObject::UpdateMapElement),
                         InstanceMethod("readPerCpuCounters", &BpfObject::ReadPerCpuCounters),
                         InstanceMethod("consumeRingBuffer", &BpfObject::ConsumeRingBuffer),
                         InstanceMethod("finishRingBuffer", &BpfObject::FinishRingBuffer),
                         InstanceMethod("close", &BpfObject::Close),
                     });
}

// BPF_TRACE_UPROBE_SESSION (Linux 6.13+), and BPF_LINK_CREATE's uprobe_multi attributes (Linux 6.6+), written out
// here because Debian's libbpf 1.1 and its kernel headers predate both; the layout is the kernel's stable uapi.
constexpr uint32_t kAttachUprobeSession = 57;

struct UprobeMultiLinkCreate {
  uint32_t progFd;
  uint32_t targetFd;
  uint32_t attachType;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t refCounterOffsets;
  uint64_t cookies;
  uint32_t count;
  uint32_t multiFlags;
  uint32_t pid;
};
static_assert(offsetof(UprobeMultiLinkCreate, path) == 16 && offsetof(UprobeMultiLinkCreate, pid) == 56, "uapi layout");

// Opens the object file and applies the options ({ mapMaxEntries, constants }). Returns an error message or "".
std::string OpenWithOptions(const std::string& path, Napi::Value options, bpf_object** opened, int* errnoOut) {
  *errnoOut = 0;
  bpf_object* object = bpf_object__open_file(path.c_str(), nullptr);
  long openErr = libbpf_get_error(object);
  if (openErr) {
    *errnoOut = static_cast<int>(openErr);
    return "open BPF object " + path;
  }
  auto fail = [&](const std::string& message, int err) {
    bpf_object__close(object);
    *errnoOut = err;
    return message;
  };
  if (options.IsObject()) {
    // mapMaxEntries: resize maps (ring buffers) before the kernel creates them.
    Napi::Value sizes = options.As<Napi::Object>().Get("mapMaxEntries");
    if (sizes.IsObject()) {
      Napi::Object sizeByMap = sizes.As<Napi::Object>();
      Napi::Array names = sizeByMap.GetPropertyNames();
      for (uint32_t i = 0; i < names.Length(); i++) {
        std::string mapName = names.Get(i).As<Napi::String>();
        bpf_map* map = bpf_object__find_map_by_name(object, mapName.c_str());
        Napi::Value requested = sizeByMap.Get(mapName);
        if (!requested.IsNumber()) return fail("mapMaxEntries." + mapName + " must be a number", 0);
        int resizeErr = map ? bpf_map__set_max_entries(map, requested.As<Napi::Number>().Uint32Value()) : -ENOENT;
        if (resizeErr) return fail("resize BPF map " + mapName, resizeErr);
      }
    }
    // sessionPrograms: programs loaded as uprobe sessions (attached with attachUprobeSession).
    Napi::Value sessions = options.As<Napi::Object>().Get("sessionPrograms");
    if (sessions.IsArray()) {
      Napi::Array names = sessions.As<Napi::Array>();
      for (uint32_t i = 0; i < names.Length(); i++) {
        std::string name = names.Get(i).As<Napi::String>();
        bpf_program* program = bpf_object__find_program_by_name(object, name.c_str());
        if (!program) return fail("no BPF program named " + name, 0);
        bpf_program__set_expected_attach_type(program, static_cast<enum bpf_attach_type>(kAttachUprobeSession));
      }
    }
    // constants: `const volatile` globals, fixed before the verifier sees the code.
    Napi::Value constants = options.As<Napi::Object>().Get("constants");
    if (constants.IsObject()) {
      std::string problem = SetReadOnlyConstants(object, constants.As<Napi::Object>());
      if (!problem.empty()) return fail(problem, 0);
    }
  }
  *opened = object;
  return "";
}

// The verifier gives up with EAGAIN whenever a signal is pending, and verifying these programs takes longer than a
// profiler's SIGPROF interval: signals wait while the object loads (they are delivered right after), and an EAGAIN
// that still happens is retried.
constexpr int kLoadAttempts = 5;

int LoadWithSignalsHeld(bpf_object* object) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  int err = bpf_object__load(object);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return err;
}

// new BpfObject(path, options?): opens and loads the object (maps created, programs verified).
BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "BpfObject(path): path to a .bpf.o file is required").ThrowAsJavaScriptException();
    return;
  }
  std::string path = info[0].As<Napi::String>();
  Napi::Value options = info.Length() > 1 ? info[1] : env.Undefined();
  for (int attempt = 1;; attempt++) {
    TakeLibbpfLog();
    int err = 0;
    std::string problem = OpenWithOptions(path, options, &object_, &err);
    if (!problem.empty()) {
      object_ = nullptr;
      if (err) SystemError(env, problem, err).ThrowAsJavaScriptException();
      else Napi::Error::New(env, problem).ThrowAsJavaScriptException();
      return;
    }
    err = LoadWithSignalsHeld(object_);
    if (!err) return;
    bpf_object__close(object_);
    object_ = nullptr;
    if (err != -EAGAIN || attempt == kLoadAttempts) {
      SystemError(env, "load BPF object " + path, err).ThrowAsJavaScriptException();
      return;
    }
  }
}

BpfObject::~BpfObject() { CloseAll(); }

// attachTracepoints(): attaches every program whose section names a (BTF or raw) tracepoint. Returns how many.
Napi::Value BpfObject::AttachTracepoints(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsOpen(env)) return env.Undefined();
  uint32_t attached = 0;
  bpf_program* program;
  bpf_object__for_each_program(program, object_) {
    const char* section = bpf_program__section_name(program);
    bool isTracepoint = strncmp(section, "tracepoint/", 11) == 0 || strncmp(section, "tp/", 3) == 0 ||
                        strncmp(section, "tp_btf/", 7) == 0 || strncmp(section, "raw_tp/", 7) == 0;
    if (!isTracepoint) continue;
    bpf_link* link = bpf_program__attach(program);
    long err = libbpf_get_error(link);
    if (err) {
      SystemError(env, std::string("attach ") + section, static_cast<int>(err)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    links_[nextLinkId_++] = AttachedLink{link, -1};
    attached++;
  }
  return Napi::Number::New(env, attached);
}

// attachUprobe(program, binaryPath, fileOffset, isReturnProbe, cookie?): probes the file for every process that maps
// it. The cookie (bpf_get_attach_cookie) tells a program shared by many files which file's facts apply.
// False, with a JS error thrown, once the object is closed.
bool BpfObject::IsOpen(Napi::Env env) {
  if (object_) return true;
  Napi::Error::New(env, "BPF object is closed").ThrowAsJavaScriptException();
  return false;
}

// The object's program of that name, or nullptr with a JS error thrown.
bpf_program* BpfObject::FindProgram(Napi::Env env, const std::string& name) {
  bpf_program* program = bpf_object__find_program_by_name(object_, name.c_str());
  if (!program) Napi::Error::New(env, "no BPF program named " + name).ThrowAsJavaScriptException();
  return program;
}

Napi::Value BpfObject::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsOpen(env)) return env.Undefined();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsBoolean()) {
    Napi::TypeError::New(env, "attachUprobe(program: string, binaryPath: string, fileOffset: number, isReturnProbe: boolean, cookie?: number)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string programName = info[0].As<Napi::String>();
  std::string binaryPath = info[1].As<Napi::String>();
  size_t offset = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  bool isReturn = info[3].As<Napi::Boolean>();
  uint64_t cookie = info.Length() > 4 && info[4].IsNumber() ? static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value()) : 0;

  bpf_program* program = FindProgram(env, programName);
  if (!program) return env.Undefined();
  LIBBPF_OPTS(bpf_uprobe_opts, options, .bpf_cookie = cookie, .retprobe = isReturn);
  bpf_link* link = bpf_program__attach_uprobe_opts(program, -1, binaryPath.c_str(), offset, &options);
  long err = libbpf_get_error(link);
  if (err) {
    SystemError(env, "attach " + programName + " to " + binaryPath, static_cast<int>(err)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t id = nextLinkId_++;
  links_[id] = AttachedLink{link, -1};
  return Napi::Number::New(env, id);
}

// attachUprobeSession(program, binaryPath, fileOffset): one program at the function's entry and, when its entry run
// returns 0, at its return; for every process that maps the file. The program was named in sessionPrograms.
Napi::Value BpfObject::AttachUprobeSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!IsOpen(env)) return env.Undefined();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "attachUprobeSession(program: string, binaryPath: string, fileOffset: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string programName = info[0].As<Napi::String>();
  std::string binaryPath = info[1].As<Napi::String>();
  uint64_t offset = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  bpf_program* program = FindProgram(env, programName);
  if (!program) return env.Undefined();
  UprobeMultiLinkCreate request = {};
  request.progFd = static_cast<uint32_t>(bpf_program__fd(program));
  request.attachType = kAttachUprobeSession;
  request.path = reinterpret_cast<uint64_t>(binaryPath.c_str());
  request.offsets = reinterpret_cast<uint64_t>(&offset);
  request.count = 1;
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  static_assert(sizeof(request) <= sizeof(attr), "bpf_attr holds link_create");
  memcpy(&attr, &request, sizeof(request));
  int fd = static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr)));
  if (fd < 0) {
    SystemError(env, "attach " + programName + " (uprobe session) to " + binaryPath, errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t id = nextLinkId_++;
  links_[id] = AttachedLink{nullptr, fd};
  return Napi::Number::New(env, id);
}

static void DestroyLink(const AttachedLink& attached);

Napi::Value BpfObject::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto found = links_.find(id);
  if (found == links_.end()) return Napi::Boolean::New(env, false);
  DestroyLink(found->second);
  links_.erase(found);
  return Napi::Boolean::New(env, true);
}

int BpfObject::MapFd(Napi::Env env, const std::string& name) {
  if (!IsOpen(env)) return -1;
  bpf_map* map = bpf_object__find_map_by_name(object_, name.c_str());
  if (!map) {
    Napi::Error::New(env, "no BPF map named " + name).ThrowAsJavaScriptException();
    return -1;
  }
  return bpf_map__fd(map);
}

// writeArrayMap(map, index, value: Buffer)
Napi::Value BpfObject::WriteArrayMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  uint32_t index = info[1].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> value = info[2].As<Napi::Buffer<uint8_t>>();
  int fd = MapFd(env, name);
  if (fd < 0) return env.Undefined();
  bpf_map* map = bpf_object__find_map_by_name(object_, name.c_str());
  if (value.Length() != bpf_map__value_size(map)) {
    Napi::Error::New(env, "value for map " + name + " must be " + std::to_string(bpf_map__value_size(map)) + " bytes")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int err = bpf_map_update_elem(fd, &index, value.Data(), BPF_ANY);
  if (err) SystemError(env, "update map " + name, errno).ThrowAsJavaScriptException();
  return env.Undefined();
}

// updateMapElement(map, key: Buffer, value: Buffer): inserts or replaces one element of a hash map.
Napi::Value BpfObject::UpdateMapElement(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsBuffer() || !info[2].IsBuffer()) {
    Napi::TypeError::New(env, "updateMapElement(map: string, key: Buffer, value: Buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>();
  Napi::Buffer<uint8_t> key = info[1].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> value = info[2].As<Napi::Buffer<uint8_t>>();
  int fd = MapFd(env, name);
  if (fd < 0) return env.Undefined();
  bpf_map* map = bpf_object__find_map_by_name(object_, name.c_str());
  if (key.Length() != bpf_map__key_size(map) || value.Length() != bpf_map__value_size(map)) {
    Napi::Error::New(env, "map " + name + " takes " + std::to_string(bpf_map__key_size(map)) + "-byte keys and " +
                              std::to_string(bpf_map__value_size(map)) + "-byte values")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), BPF_ANY) != 0) {
    SystemError(env, "update map " + name, errno).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// readPerCpuCounters(map, count): sums each u64 slot of a per-CPU array over all CPUs. Returns BigInt[].
Napi::Value BpfObject::ReadPerCpuCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  int fd = MapFd(env, name);
  if (fd < 0) return env.Undefined();
  int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> perCpu(cpus > 0 ? cpus : 1);
  Napi::Array totals = Napi::Array::New(env, count);
  for (uint32_t key = 0; key < count; key++) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(fd, &key, perCpu.data()) == 0) {
      for (uint64_t value : perCpu) sum += value;
    }
    totals[key] = Napi::BigInt::New(env, sum);
  }
  return totals;
}

// consumeRingBuffer(map, onBatch(buffer), maxPendingBytes, options?: { headerBytes, lengthOffset, drainIntervalMs }):
// starts draining the ring buffer on a thread. With headerBytes and lengthOffset, a record is cut to headerBytes plus
// the u32 length at lengthOffset, so the unused tail of a record reserved in a larger size class is never copied.
// drainIntervalMs: how often the ring is read when BPF has not woken the thread.
Napi::Value BpfObject::ConsumeRingBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  Napi::Function onBatch = info[1].As<Napi::Function>();
  size_t maxPending = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  RecordTrim trim;
  int drainIntervalMs = kDefaultDrainIntervalMs;
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object options = info[3].As<Napi::Object>();
    if (options.Has("headerBytes") && options.Has("lengthOffset")) {
      trim.headerBytes = options.Get("headerBytes").As<Napi::Number>().Uint32Value();
      trim.lengthOffset = options.Get("lengthOffset").As<Napi::Number>().Uint32Value();
      trim.enabled = trim.lengthOffset + 4 <= trim.headerBytes;
    }
    if (options.Has("drainIntervalMs")) {
      drainIntervalMs = options.Get("drainIntervalMs").As<Napi::Number>().Int32Value();
      if (drainIntervalMs < 1 || drainIntervalMs > 60'000) {
        Napi::RangeError::New(env, "drainIntervalMs must be between 1 and 60000").ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
  }
  int fd = MapFd(env, name);
  if (fd < 0) return env.Undefined();
  if (consumers_.count(name)) {
    Napi::Error::New(env, "ring buffer " + name + " is already being consumed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto consumer = std::make_unique<RingConsumer>(env, fd, onBatch, maxPending, trim, drainIntervalMs);
  std::string error = consumer->Start();
  if (!error.empty()) {
    Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  consumers_[name] = std::move(consumer);
  return env.Undefined();
}


// finishRingBuffer(map, done()): the ring is read once more and everything in it handed to onBatch, then done() is
// called (after every batch before it) and the ring is no longer read. done() is called at once for a ring nobody
// consumes.
Napi::Value BpfObject::FinishRingBuffer(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>();
  Napi::Function done = info[1].As<Napi::Function>();
  auto consumer = consumers_.find(name);
  if (consumer == consumers_.end()) {
    done.Call({});
    return info.Env().Undefined();
  }
  consumer->second->Finish(done);
  return info.Env().Undefined();
}

// Removing a uprobe waits for the kernel's RCU grace periods, a few hundred milliseconds each on a busy host: links
// are destroyed on several threads at once, so a sensor stops in about one such wait rather than one per probe.
constexpr size_t kDetachThreads = 16;

static void DestroyLink(const AttachedLink& attached) {
  if (attached.link) bpf_link__destroy(attached.link);
  else if (attached.fd >= 0) close(attached.fd);
}

static void DestroyLinks(std::vector<AttachedLink> links) {
  std::vector<std::thread> workers;
  std::atomic<size_t> next{0};
  for (size_t i = 0; i < std::min(kDetachThreads, links.size()); i++) {
    workers.emplace_back([&] {
      for (size_t index = next++; index < links.size(); index = next++) DestroyLink(links[index]);
    });
  }
  for (auto& worker : workers) worker.join();
}

void BpfObject::CloseAll() {
  for (auto& entry : consumers_) entry.second->Stop();
  consumers_.clear();
  std::vector<AttachedLink> links;
  for (auto& entry : links_) links.push_back(entry.second);
  links_.clear();
  DestroyLinks(std::move(links));
  if (object_) {
    bpf_object__close(object_);
    object_ = nullptr;
  }
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}
