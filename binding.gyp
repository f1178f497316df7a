{
  "variables": { "sanitize%": 0 },
  "targets": [
    {
      "target_name": "vfsnative",
      "sources": [
        "native/addon.cc",
        "native/worker_pool.cc",
        "native/fd_watch.cc",
        "native/unix_socket.cc",
        "native/guest_memory.cc",
        "native/memory_binding.cc",
        "native/process.cc",
        "native/memory_trim.cc",
        "native/dirent_encode.cc",
        "native/shared_memory.cc",
        "native/dev_fuse.cc",
        "native/sandbox.cc",
        "native/sandbox_capabilities.cc",
        "native/sandbox_seccomp.cc",
        "native/virtqueue.cc",
        "native/queue_binding.cc",
        "native/fuse_fast_path.cc",
        "native/syscalls.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    },
    {
      "target_name": "vfs-supervisor",
      "type": "executable",
      "sources": ["native/launcher/vfs_supervisor.c", "native/launcher/supervise.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "ldflags": ["-static"]
    },
    {
      "target_name": "virtiofsd-ts",
      "type": "executable",
      "sources": ["native/launcher/launcher.c", "native/launcher/supervise.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "ldflags": ["-static"]
    }
  ]
}
