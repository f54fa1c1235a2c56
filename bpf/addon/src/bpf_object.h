// A loaded BPF object file, exposed to JS: attach/detach probes, write settings, read counters, drain ring buffers.
#pragma once

#include <napi.h>

#include <map>
#include <memory>
#include <string>

#include "ring_consumer.h"

struct bpf_object;
struct bpf_link;
struct bpf_program;

// A probe's attachment: a libbpf link, or the fd of a link made by a raw BPF_LINK_CREATE (uprobe sessions, which
// Debian's libbpf 1.1 predates).
struct AttachedLink {
  bpf_link* link = nullptr;
  int fd = -1;
};

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject();

 private:
  Napi::Value AttachTracepoints(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobeSession(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value WriteArrayMap(const Napi::CallbackInfo& info);
  Napi::Value UpdateMapElement(const Napi::CallbackInfo& info);
  Napi::Value ReadPerCpuCounters(const Napi::CallbackInfo& info);
  Napi::Value ConsumeRingBuffer(const Napi::CallbackInfo& info);
  Napi::Value FinishRingBuffer(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void CloseAll();
  int MapFd(Napi::Env env, const std::string& name);
  bool IsOpen(Napi::Env env);
  bpf_program* FindProgram(Napi::Env env, const std::string& name);

  bpf_object* object_ = nullptr;
  std::map<uint32_t, AttachedLink> links_;
  uint32_t nextLinkId_ = 1;
  std::map<std::string, std::unique_ptr<RingConsumer>> consumers_;
};
