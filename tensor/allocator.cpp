#include "tensor/allocator.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/allocator.h"
#endif

#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"

namespace difflab::tensor {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kHugeAlign = size_t(2) << 20;
constexpr size_t kLargeThreshold = size_t(1) << 20;  // blocks from here on are huge-page backed
}  // namespace

// What this process can ever hold: physical memory plus swap, or less under a cgroup limit. A
// request beyond it fails here with a message instead of being overcommitted and ending in the
// kernel's OOM killer.
size_t CpuAllocator::memory_limit() {
  static const size_t limit = [] {
    size_t lim = std::numeric_limits<size_t>::max();
    struct sysinfo si;
    if (sysinfo(&si) == 0) lim = (size_t(si.totalram) + size_t(si.totalswap)) * si.mem_unit;
    for (const char* f : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
      std::ifstream in(f);
      unsigned long long v = 0;
      if (in >> v && v > 0) lim = std::min<size_t>(lim, size_t(v));  // "max" fails to parse
    }
    return lim;
  }();
  return limit;
}

static std::string gib(size_t b) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

struct CpuAllocator::Impl {
  mutable std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  MemoryStats st;
};

CpuAllocator::Impl* CpuAllocator::impl() {
  // Leaked on purpose: tensors with static lifetime may be freed after main returns.
  static Impl* p = new Impl();
  return p;
}

CpuAllocator& CpuAllocator::instance() {
  static CpuAllocator* a = new CpuAllocator();
  return *a;
}

CpuAllocator::~CpuAllocator() = default;

size_t CpuAllocator::bucket_size(size_t n) {
  if (n <= 256) return std::max<size_t>(kAlign, (n + kAlign - 1) / kAlign * kAlign);
  if (n >= kLargeThreshold) return (n + kHugeAlign - 1) / kHugeAlign * kHugeAlign;
  // Four buckets per power of two keep the waste under 25%.
  size_t p = size_t(1) << (63 - __builtin_clzll(n - 1));  // largest power of two < n
  size_t step = std::max<size_t>(kAlign, p / 4);
  return (n + step - 1) / step * step;
}

static void* os_allocate(size_t bytes) {
  void* p = nullptr;
  // aligned_alloc needs the size to be a multiple of the alignment (C11; ASan enforces it): a
  // bucket just under the large threshold can round up to exactly 1 MiB.
  if (bytes >= kLargeThreshold && bytes % kHugeAlign == 0) {
    p = std::aligned_alloc(kHugeAlign, bytes);
    if (p) madvise(p, bytes, MADV_HUGEPAGE);
  } else {
    p = std::aligned_alloc(kAlign, bytes);
  }
  return p;
}

void* CpuAllocator::allocate(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  DIFFLAB_CHECK(nbytes < (size_t(1) << 56), "out of memory: a request of ", nbytes,
                " bytes is beyond any machine's memory");
  size_t b = bucket_size(nbytes);
  Impl* im = impl();
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(im->mu);
    auto it = im->free_blocks.find(b);
    if (it != im->free_blocks.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      im->st.cached_bytes -= b;
    }
  }
  if (!p) {
    const size_t limit = memory_limit();
    MemoryStats now = stats();
    if (now.live_bytes + now.cached_bytes + b > limit) empty_cache();
    DIFFLAB_CHECK(now.live_bytes + b <= limit, "out of memory: ", gib(b), " (", b,
                  " bytes) requested while ", gib(now.live_bytes),
                  " are live, beyond the ", gib(limit),
                  " this process can hold (physical memory + swap, or its cgroup limit)");
    p = os_allocate(b);
    if (!p) {
      empty_cache();
      p = os_allocate(b);
    }
    DIFFLAB_CHECK(p, "out of memory: the system refused ", gib(b), " (", b, " bytes) while ",
                  gib(stats().live_bytes), " are live");
    std::lock_guard<std::mutex> lock(im->mu);
    im->st.num_os_allocs++;
  }
  std::lock_guard<std::mutex> lock(im->mu);
  im->st.num_allocs++;
  im->st.live_bytes += b;
  im->st.peak_bytes = std::max(im->st.peak_bytes, im->st.live_bytes);
  return p;
}

void CpuAllocator::deallocate(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes == 0) nbytes = 1;
  size_t b = bucket_size(nbytes);
#ifndef NDEBUG
  // Poison freed memory with NaN so use-after-free shows up in results.
  float nan = std::numeric_limits<float>::quiet_NaN();
  std::fill_n(static_cast<float*>(p), b / sizeof(float), nan);
#endif
  Impl* im = impl();
  std::lock_guard<std::mutex> lock(im->mu);
  im->free_blocks[b].push_back(p);
  im->st.live_bytes -= b;
  im->st.cached_bytes += b;
}

MemoryStats CpuAllocator::stats() const {
  Impl* im = const_cast<CpuAllocator*>(this)->impl();
  std::lock_guard<std::mutex> lock(im->mu);
  return im->st;
}

size_t CpuAllocator::reset_peak() {
  Impl* im = impl();
  std::lock_guard<std::mutex> lock(im->mu);
  size_t old = im->st.peak_bytes;
  im->st.peak_bytes = im->st.live_bytes;
  return old;
}

void CpuAllocator::raise_peak(size_t bytes) {
  Impl* im = impl();
  std::lock_guard<std::mutex> lock(im->mu);
  im->st.peak_bytes = std::max(im->st.peak_bytes, bytes);
}

void CpuAllocator::empty_cache() {
  Impl* im = impl();
  std::lock_guard<std::mutex> lock(im->mu);
  for (auto& [b, v] : im->free_blocks) {
    for (void* p : v) std::free(p);
    im->st.cached_bytes -= b * v.size();
    v.clear();
  }
}

MemoryStats memory_stats(const Device& device) {
  if (device.is_cpu()) return CpuAllocator::instance().stats();
  check_device_available(device);
#if DIFFLAB_HAVE_CUDA
  return cuda::CudaAllocator::instance().stats(device.index);
#else
  return {};
#endif
}

size_t reset_peak(const Device& device) {
  if (device.is_cpu()) return CpuAllocator::instance().reset_peak();
  check_device_available(device);
#if DIFFLAB_HAVE_CUDA
  return cuda::CudaAllocator::instance().reset_peak(device.index);
#else
  return 0;
#endif
}

void raise_peak(const Device& device, size_t bytes) {
  if (device.is_cpu()) return CpuAllocator::instance().raise_peak(bytes);
#if DIFFLAB_HAVE_CUDA
  cuda::CudaAllocator::instance().raise_peak(device.index, bytes);
#endif
}

}  // namespace difflab::tensor
