#include "tensor/device.h"

#include <cctype>

#include "tensor/error.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/runtime.h"
#endif

namespace difflab::tensor {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  if (name == "cuda") return Device::cuda(0);
  const std::string prefix = "cuda:";
  if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() &&
      name.size() <= prefix.size() + 3) {
    bool digits = true;
    for (size_t i = prefix.size(); i < name.size(); ++i)
      digits = digits && std::isdigit(static_cast<unsigned char>(name[i]));
    if (digits) return Device::cuda(std::stoi(name.substr(prefix.size())));
  }
  DIFFLAB_FAIL("unknown device '", name, "': expected cpu, cuda or cuda:<index>");
}

void check_device_available(const Device& d) {
  if (d.is_cpu()) return;
#if DIFFLAB_HAVE_CUDA
  const int n = cuda::device_count();
  DIFFLAB_CHECK(n > 0, "device ", d, " was requested, but no CUDA device can be used (",
                cuda::unavailable_reason(), "); use --device cpu");
  DIFFLAB_CHECK(d.index >= 0 && d.index < n, "device ", d, " was requested, but only ", n,
                " CUDA device", n == 1 ? " is" : "s are", " present (cuda:0",
                n > 1 ? " to cuda:" + std::to_string(n - 1) : std::string(), ")");
#else
  DIFFLAB_FAIL("device ", d,
               " was requested, but this build of difflab has no CUDA backend; "
               "use --device cpu");
#endif
}

bool cuda_built() {
#if DIFFLAB_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#if DIFFLAB_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::string cuda_unavailable_reason() {
#if DIFFLAB_HAVE_CUDA
  return cuda::unavailable_reason();
#else
  return "this build of difflab has no CUDA backend (configure with DIFFLAB_CUDA=ON or AUTO "
         "where nvcc is installed)";
#endif
}

}  // namespace difflab::tensor
