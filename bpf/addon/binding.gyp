{
  "targets": [
    {
      "target_name": "sightline_bpf",
      "sources": ["src/addon.cc", "src/bpf_object.cc", "src/ring_consumer.cc", "src/elf_symbols.cc", "src/text_scanner.cc", "src/idle_first_scheduler.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["<!@(pkg-config --libs libbpf libelf libhs)"]
    }
  ]
}
