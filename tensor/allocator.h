// Caching CPU allocator: 64-byte aligned blocks in size buckets, large blocks 2 MiB-aligned and
// advised MADV_HUGEPAGE; freed blocks are kept for reuse. Reports live, peak and cached bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/device.h"

namespace difflab::tensor {

struct MemoryStats {
  size_t live_bytes = 0;    // bytes held by live tensors (bucket sizes)
  size_t peak_bytes = 0;    // maximum of live_bytes since the last reset_peak
  size_t cached_bytes = 0;  // freed blocks kept for reuse
  size_t num_allocs = 0;    // allocations served (cache hits included)
  size_t num_os_allocs = 0; // allocations that went to the OS
};

class CpuAllocator {
 public:
  static CpuAllocator& instance();
  void* allocate(size_t nbytes);
  void deallocate(void* p, size_t nbytes);
  MemoryStats stats() const;
  // Sets the peak to the current live bytes and returns the previous peak.
  size_t reset_peak();
  // Raises the recorded peak to at least `bytes` (used by nested MemoryScopes).
  void raise_peak(size_t bytes);
  // Returns every cached block to the OS.
  void empty_cache();
  // Bytes this process can ever hold: physical memory + swap, or a lower cgroup limit. Requests
  // that would take live bytes beyond it fail with a difflab::Error naming the sizes.
  static size_t memory_limit();
  // The bucket size a request of nbytes occupies.
  static size_t bucket_size(size_t nbytes);

 private:
  CpuAllocator() = default;
  ~CpuAllocator();
  struct Impl;
  Impl* impl();
};

// The allocator of `device` (the CPU one, or the CUDA one of that device): its stats, and its
// peak reset/raise as used by autograd's MemoryScope.
MemoryStats memory_stats(const Device& device);
size_t reset_peak(const Device& device);
void raise_peak(const Device& device, size_t bytes);

}  // namespace difflab::tensor
