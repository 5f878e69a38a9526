// Caching CUDA allocator: cudaMalloc'd blocks (never managed memory) in size bins, reused in
// stream order (every kernel of a device runs on its one stream, so a block freed by the host
// may be handed to the next kernel at once). Reports live, peak and cached bytes per device
// like the CPU allocator.
#pragma once
#include <cstddef>

#include "tensor/allocator.h"

namespace difflab::tensor::cuda {

class CudaAllocator {
 public:
  static CudaAllocator& instance();
  // Throws a difflab::Error naming the size, the device and the bytes in use when even an
  // emptied cache cannot satisfy the request.
  void* allocate(size_t nbytes, int device);
  void deallocate(void* p, size_t nbytes, int device);
  MemoryStats stats(int device) const;
  size_t reset_peak(int device);
  void raise_peak(int device, size_t bytes);
  // Returns cached blocks of every device to the driver.
  void empty_cache();
  // The bin a request occupies: multiples of 512 bytes up to 1 MiB, then of 2 MiB.
  static size_t bin_size(size_t nbytes);

 private:
  CudaAllocator() = default;
  struct Impl;
  Impl* impl() const;
};

}  // namespace difflab::tensor::cuda
