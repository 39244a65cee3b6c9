{
  "targets": [
    {
      "target_name": "gingham_bpf",
      "sources": ["src/native/bpf.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
