// Copies with broadcasting and dtype conversion on and between devices; fill.
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"

namespace difflab::tensor::cuda {

namespace {

template <typename D, typename S>
__global__ void copy_kernel(int64_t n, D* dst, StridedIndex di, const S* src, StridedIndex si) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[di(i)] = D(src[si(i)]);
}

template <typename T>
__global__ void fill_kernel(int64_t n, T* dst, StridedIndex di, T v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[di(i)] = v;
}

// Both on the same CUDA device. Indices are relative to the storage base (offsets included).
void copy_on_device(const Tensor& dst, const Tensor& src) {
  cudaStream_t s = prepare(dst);
  const int64_t n = dst.numel();
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() &&
      dst.shape() == src.shape()) {
    DIFFLAB_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), dst.nbytes(),
                                       cudaMemcpyDeviceToDevice, s),
                       "copy ", src.desc(), " -> ", dst.desc());
    return;
  }
  StridedIndex di = make_index(dst, dst.shape()), si = make_index(src, dst.shape());
  DIFFLAB_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using D = scalar_t;
    DIFFLAB_DISPATCH_ALL(src.dtype(), "copy", [&] {
      using S = scalar_t;
      copy_kernel<D, S><<<blocks_for(n), kThreads, 0, s>>>(
          n, static_cast<D*>(dst.storage()->data), di, static_cast<const S*>(src.storage()->data),
          si);
    });
  });
  DIFFLAB_CUDA_LAUNCHED("copy");
}

}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  DIFFLAB_CHECK(dst.defined() && src.defined(), "copy: undefined tensor");
  Shape b = broadcast_shapes(dst.shape(), src.shape(), "copy");
  DIFFLAB_CHECK(b == dst.shape(), "copy: cannot broadcast source ", src.shape(),
                " to destination ", dst.shape());
  if (dst.numel() == 0) return;
  const Device dd = dst.device(), sd = src.device();
  if (dd.is_cuda() && sd == dd) return copy_on_device(dst, src);
  if (dd.is_cpu()) {  // from a device: bring the source over whole, then copy on the host
    dst.copy_(src.to(Device::cpu()));
    return;
  }
  // To a device from the host or from another device: stage a host tensor with dst's dtype
  // and shape, upload it, then copy on the device into dst's layout.
  Tensor host = Tensor::empty(dst.shape(), dst.dtype(), Device::cpu());
  host.copy_(sd.is_cpu() ? src : src.to(Device::cpu()));
  if (dst.is_contiguous()) {
    copy_to_device(dst.raw_data(), host.raw_data(), host.nbytes(), dd.index);
    return;
  }
  copy_on_device(dst, host.to(dd));
}

void fill(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  cudaStream_t s = prepare(dst);
  const int64_t n = dst.numel();
  StridedIndex di = make_index(dst, dst.shape());
  DIFFLAB_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    fill_kernel<scalar_t><<<blocks_for(n), kThreads, 0, s>>>(
        n, static_cast<scalar_t*>(dst.storage()->data), di, scalar_t(value));
  });
  DIFFLAB_CUDA_LAUNCHED("fill");
}

}  // namespace difflab::tensor::cuda
