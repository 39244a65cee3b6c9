/*
 * The only native code of @gingham/ebpf-loader: the bpf(2) syscall, if_nametoindex(3) and
 * setns(2). It must never grow policy: every attribute struct is marshalled in TypeScript.
 *
 *   bpf(cmd, attr[, ptrs]) -> result (>= 0) or -errno
 *     attr: Uint8Array holding `union bpf_attr` (its length is passed as the size);
 *     ptrs: flat array [offset0, view0, offset1, view1, ...]; the address of each typed array's
 *           data is written as a u64 into attr at the offset just before the call, so that
 *           JavaScript never handles raw addresses.
 *   ifNameToIndex(name) -> ifindex, or 0 when the interface does not exist here
 *   setns(fd, nstype) -> 0 or -errno (only the calling thread changes namespace)
 *   mmap(fd, length, writable, offset) -> ArrayBuffer over a MAP_SHARED mapping, or -errno
 *   munmap(arrayBuffer) -> detaches the buffer and unmaps it (also done on garbage collection)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <node_api.h>

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, "BPF_BINDING", "gingham: ebpf-loader binding: " #call); \
      return NULL;                                                                   \
    }                                                                                \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return NULL;
  return out;
}

static int view_data(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return -1;
  if (type != napi_uint8_array) return -1;
  *len = length;
  return 0;
}

static napi_value Bpf(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "BPF_BINDING", "gingham: bpf(cmd, attr[, ptrs]) needs 2 arguments");
    return NULL;
  }
  int32_t cmd;
  CHECK(napi_get_value_int32(env, argv[0], &cmd));
  void *attr;
  size_t attr_len;
  if (view_data(env, argv[1], &attr, &attr_len) != 0) {
    napi_throw_type_error(env, "BPF_BINDING", "gingham: bpf attr must be a Uint8Array");
    return NULL;
  }
  if (argc >= 3) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[2], &t));
    if (t != napi_undefined && t != napi_null) {
      uint32_t n;
      CHECK(napi_get_array_length(env, argv[2], &n));
      for (uint32_t i = 0; i + 1 < n; i += 2) {
        napi_value off_v, view_v;
        CHECK(napi_get_element(env, argv[2], i, &off_v));
        CHECK(napi_get_element(env, argv[2], i + 1, &view_v));
        uint32_t off;
        CHECK(napi_get_value_uint32(env, off_v, &off));
        void *data;
        size_t len;
        if (view_data(env, view_v, &data, &len) != 0 || (size_t)off + 8 > attr_len) {
          napi_throw_type_error(env, "BPF_BINDING", "gingham: bad pointer patch (need Uint8Array in range)");
          return NULL;
        }
        uint64_t addr = (uint64_t)(uintptr_t)data;
        memcpy((char *)attr + off, &addr, 8);
      }
    }
  }
  long r = syscall(__NR_bpf, cmd, attr, (unsigned int)attr_len);
  return make_int(env, r < 0 ? -(int64_t)errno : (int64_t)r);
}

static napi_value IfNameToIndex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IF_NAMESIZE + 1];
  size_t len = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  return make_int(env, (int64_t)if_nametoindex(name));
}

static napi_value SetNs(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, nstype;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &nstype));
  int r = setns(fd, nstype);
  return make_int(env, r < 0 ? -(int64_t)errno : 0);
}

/* Shared by the ArrayBuffer's finalizer and the napi_external used by munmap(); freed by the
   second finalizer that runs. */
struct mapping {
  void *addr;
  size_t len;
  int unmapped;
  int refs;
};

static void release(struct mapping *m) {
  if (--m->refs == 0) free(m);
}

static void unmap_once(struct mapping *m) {
  if (!m->unmapped) {
    munmap(m->addr, m->len);
    m->unmapped = 1;
  }
}

static void finalize_mapping(napi_env env, void *data, void *hint) {
  struct mapping *m = hint;
  unmap_once(m);
  release(m);
}

static void finalize_ext(napi_env env, void *data, void *hint) {
  release((struct mapping *)data);
}

static napi_value Mmap(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  double len_d, off_d;
  bool writable;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_double(env, argv[1], &len_d));
  CHECK(napi_get_value_bool(env, argv[2], &writable));
  CHECK(napi_get_value_double(env, argv[3], &off_d));
  size_t len = (size_t)len_d;
  void *p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, (off_t)off_d);
  if (p == MAP_FAILED) return make_int(env, -(int64_t)errno);
  struct mapping *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(p, len);
    return make_int(env, -(int64_t)ENOMEM);
  }
  m->addr = p;
  m->len = len;
  m->refs = 2;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, len, finalize_mapping, m, &ab) != napi_ok) {
    munmap(p, len);
    free(m);
    napi_throw_error(env, "BPF_BINDING", "gingham: cannot wrap a mapping in an ArrayBuffer");
    return NULL;
  }
  /* Keep the bookkeeping reachable from JS for munmap(). */
  napi_value ext;
  if (napi_create_external(env, m, finalize_ext, NULL, &ext) != napi_ok) {
    release(m);
    napi_throw_error(env, "BPF_BINDING", "gingham: napi_create_external failed");
    return NULL;
  }
  CHECK(napi_set_named_property(env, ab, "__gingham_mapping", ext));
  return ab;
}

static napi_value Munmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_value ext;
  CHECK(napi_get_named_property(env, argv[0], "__gingham_mapping", &ext));
  napi_valuetype t;
  CHECK(napi_typeof(env, ext, &t));
  if (t != napi_external) return make_int(env, -(int64_t)EINVAL);
  struct mapping *m;
  CHECK(napi_get_value_external(env, ext, (void **)&m));
  /* Detach first so JavaScript can no longer touch the pages, then unmap. */
  napi_detach_arraybuffer(env, argv[0]);
  unmap_once(m);
  return make_int(env, 0);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bpf", NULL, Bpf, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifNameToIndex", NULL, IfNameToIndex, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setns", NULL, SetNs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mmap", NULL, Mmap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"munmap", NULL, Munmap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
