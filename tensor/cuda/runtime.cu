// CUDA runtime: device discovery, one non-blocking stream per device, copies, index helper.
#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "tensor/cuda/common.cuh"

namespace difflab::tensor::cuda {

namespace {

struct DeviceTable {
  int count = 0;
  std::string reason;
  std::vector<cudaStream_t> streams;
  std::mutex mutex;
};

DeviceTable& table() {
  static DeviceTable* t = [] {
    auto* d = new DeviceTable;  // never destroyed: streams may be used from static destructors
    cudaError_t err = cudaGetDeviceCount(&d->count);
    if (err != cudaSuccess) {
      d->count = 0;
      d->reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
      cudaGetLastError();  // clear the sticky error of the failed query
    } else if (d->count == 0) {
      d->reason = "no CUDA device is present";
    }
    d->streams.assign(size_t(d->count), nullptr);
    return d;
  }();
  return *t;
}

void check_index(int device, const char* what) {
  const int n = table().count;
  DIFFLAB_CHECK(n > 0, what, ": cuda:", device, " requested but no CUDA device can be used (",
                table().reason, ")");
  DIFFLAB_CHECK(device >= 0 && device < n, what, ": cuda:", device, " does not exist (", n,
                " device", n == 1 ? "" : "s", " present)");
}

}  // namespace

int device_count() { return table().count; }

std::string unavailable_reason() { return table().reason; }

void set_device(int device) {
  check_index(device, "set_device");
  DIFFLAB_CUDA_CHECK(cudaSetDevice(device), "cudaSetDevice(", device, ")");
}

void* stream(int device) {
  check_index(device, "stream");
  DeviceTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  if (!t.streams[size_t(device)]) {
    set_device(device);
    DIFFLAB_CUDA_CHECK(cudaStreamCreateWithFlags(&t.streams[size_t(device)], cudaStreamNonBlocking),
                       "cudaStreamCreate on cuda:", device);
  }
  return t.streams[size_t(device)];
}

void synchronize(int device) {
  set_device(device);
  DIFFLAB_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream(device))),
                     "synchronize cuda:", device, " (an earlier kernel failed)");
}

void copy_to_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  set_device(device);
  auto s = static_cast<cudaStream_t>(stream(device));
  DIFFLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, s),
                     "copy of ", nbytes, " bytes to cuda:", device);
  DIFFLAB_CUDA_CHECK(cudaStreamSynchronize(s), "copy of ", nbytes, " bytes to cuda:", device);
}

void copy_to_host(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  set_device(device);
  auto s = static_cast<cudaStream_t>(stream(device));
  DIFFLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, s),
                     "copy of ", nbytes, " bytes from cuda:", device);
  DIFFLAB_CUDA_CHECK(cudaStreamSynchronize(s), "copy of ", nbytes, " bytes from cuda:", device);
}

void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  set_device(device);
  DIFFLAB_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice,
                                     static_cast<cudaStream_t>(stream(device))),
                     "device copy of ", nbytes, " bytes on cuda:", device);
}

StridedIndex make_index(const Tensor& t, const Shape& shape) {
  StridedIndex ix;
  ix.offset = t.offset();
  const int64_t off = int64_t(shape.size()) - t.dim();
  DIFFLAB_CHECK(off >= 0, "cuda: cannot view ", t.shape(), " as ", shape);
  std::vector<int64_t> sizes, strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int64_t td = int64_t(d) - off;
    int64_t st = 0;
    if (td >= 0 && t.shape()[size_t(td)] != 1) st = t.strides()[size_t(td)];
    if (!sizes.empty() && strides.back() == st * shape[d]) {  // merge with the previous dim
      sizes.back() *= shape[d];
      strides.back() = st;
      continue;
    }
    sizes.push_back(shape[d]);
    strides.push_back(st);
  }
  DIFFLAB_CHECK(sizes.size() <= size_t(kMaxDims), "cuda: tensor ", t.desc(), " viewed as ",
                shape, " needs ", sizes.size(), " dims after merging; at most ", kMaxDims,
                " are supported");
  ix.ndim = int(sizes.size());
  for (size_t d = 0; d < sizes.size(); ++d) {
    ix.sizes[d] = sizes[d];
    ix.strides[d] = strides[d];
  }
  return ix;
}

}  // namespace difflab::tensor::cuda
