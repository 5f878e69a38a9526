#include "tensor/device.h"

#include <cctype>

#include "tensor/error.h"

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
  // The CUDA backend (issue 5) replaces this with a device count query.
  DIFFLAB_FAIL("device ", d,
               " was requested, but this build of difflab has no CUDA backend; "
               "use --device cpu");
}

}  // namespace difflab::tensor
