// CUDA runtime seam for the rest of difflab (plain C++, no CUDA headers): device discovery,
// the one stream per device every kernel runs on, host<->device copies and synchronize().
// Compiled only when the CUDA backend is built (DIFFLAB_HAVE_CUDA); see tensor/device.h for
// the checks that work in every build.
#pragma once
#include <cstddef>
#include <string>

namespace difflab::tensor::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count();
// Why no device can be used ("CUDA driver version is insufficient ..."), or "" when one can.
std::string unavailable_reason();
// Makes `device` current for this thread (errors name the device).
void set_device(int device);
// The stream kernels for `device` are queued on (a cudaStream_t), created on first use.
void* stream(int device);
// Waits for all work queued on the device's stream; errors from earlier kernels surface here.
void synchronize(int device = 0);

// Copies between host and device memory; they wait for the device's stream, so the host
// side sees (or may reuse) the data when they return.
void copy_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_to_host(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device);

}  // namespace difflab::tensor::cuda
