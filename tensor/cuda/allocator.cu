// Caching CUDA allocator: per-device free lists keyed by bin size, best fit from a multimap.
// DIFFLAB_CUDA_NO_CACHE=1 turns the cache off (exact-size cudaMalloc, cudaFree at once), so that
// compute-sanitizer's memcheck sees every out-of-bounds access and every use after free.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/cuda/allocator.h"
#include "tensor/cuda/common.cuh"

namespace difflab::tensor::cuda {

struct CudaAllocator::Impl {
  struct PerDevice {
    MemoryStats stats;
    std::multimap<size_t, void*> free_blocks;  // bin size -> block
    std::unordered_map<void*, size_t> live_blocks;  // block -> its size (may exceed the bin)
  };
  mutable std::mutex mutex;
  std::vector<PerDevice> devices;

  PerDevice& dev(int d) {
    if (size_t(d) >= devices.size()) devices.resize(size_t(d) + 1);
    return devices[size_t(d)];
  }

  void release_cached(int d) {
    PerDevice& pd = dev(d);
    cudaSetDevice(d);
    for (auto& [size, p] : pd.free_blocks) cudaFree(p);
    pd.free_blocks.clear();
    pd.stats.cached_bytes = 0;
  }
};

CudaAllocator& CudaAllocator::instance() {
  static CudaAllocator* a = new CudaAllocator;  // never destroyed (freed storages may outlive it)
  return *a;
}

namespace {
bool cache_off() {
  static const bool off = [] {
    const char* v = std::getenv("DIFFLAB_CUDA_NO_CACHE");
    return v && *v && std::string(v) != "0";
  }();
  return off;
}
}  // namespace

CudaAllocator::Impl* CudaAllocator::impl() const {
  static Impl* i = new Impl;
  return i;
}

size_t CudaAllocator::bin_size(size_t n) {
  if (n == 0) return 512;
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSplit = size_t(1) << 20;
  if (n <= kSplit) return (n + kSmall - 1) / kSmall * kSmall;
  return (n + kLarge - 1) / kLarge * kLarge;
}

void* CudaAllocator::allocate(size_t nbytes, int device) {
  const size_t bin = cache_off() ? std::max<size_t>(nbytes, 1) : bin_size(nbytes);
  Impl& im = *impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  auto& pd = im.dev(device);
  // Best fit among cached blocks, but never a block more than twice the request (large
  // blocks would otherwise be eaten by small tensors).
  auto it = pd.free_blocks.lower_bound(bin);
  if (!cache_off() && it != pd.free_blocks.end() && it->first <= 2 * bin) {
    void* p = it->second;
    const size_t got = it->first;
    pd.free_blocks.erase(it);
    pd.stats.cached_bytes -= got;
    pd.live_blocks.emplace(p, got);
    pd.stats.live_bytes += got;
    pd.stats.peak_bytes = std::max(pd.stats.peak_bytes, pd.stats.live_bytes);
    pd.stats.num_allocs++;
    return p;
  }
  set_device(device);
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bin);
  if (err != cudaSuccess) {
    cudaGetLastError();
    im.release_cached(device);
    err = cudaMalloc(&p, bin);
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      DIFFLAB_FAIL("out of memory on cuda:", device, ": cannot allocate ", nbytes, " bytes (",
                   pd.stats.live_bytes, " bytes live in difflab tensors, ", free_b, " of ",
                   total_b, " bytes free on the device)");
    }
  }
  pd.live_blocks.emplace(p, bin);
  pd.stats.live_bytes += bin;
  pd.stats.peak_bytes = std::max(pd.stats.peak_bytes, pd.stats.live_bytes);
  pd.stats.num_allocs++;
  pd.stats.num_os_allocs++;
  return p;
}

void CudaAllocator::deallocate(void* p, size_t nbytes, int device) {
  if (!p) return;
  Impl& im = *impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  auto& pd = im.dev(device);
  auto it = pd.live_blocks.find(p);
  DIFFLAB_CHECK(it != pd.live_blocks.end(), "CudaAllocator: freeing a block of ", nbytes,
                " bytes on cuda:", device, " that it did not allocate");
  const size_t bin = it->second;
  pd.live_blocks.erase(it);
  pd.stats.live_bytes -= bin;
  if (cache_off()) {
    set_device(device);
    cudaFree(p);
    return;
  }
  pd.stats.cached_bytes += bin;
  pd.free_blocks.emplace(bin, p);
}

MemoryStats CudaAllocator::stats(int device) const {
  Impl& im = *impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  return im.dev(device).stats;
}

size_t CudaAllocator::reset_peak(int device) {
  Impl& im = *impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  auto& s = im.dev(device).stats;
  size_t old = s.peak_bytes;
  s.peak_bytes = s.live_bytes;
  return old;
}

void CudaAllocator::raise_peak(int device, size_t bytes) {
  Impl& im = *impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  auto& s = im.dev(device).stats;
  s.peak_bytes = std::max(s.peak_bytes, bytes);
}

void CudaAllocator::empty_cache() {
  Impl& im = *impl();
  std::lock_guard<std::mutex> lock(im.mutex);
  for (size_t d = 0; d < im.devices.size(); ++d) {
    if (im.devices[d].free_blocks.empty()) continue;
    synchronize(int(d));  // queued kernels may still use a cached block
    im.release_cached(int(d));
  }
}

}  // namespace difflab::tensor::cuda
