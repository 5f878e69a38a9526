// Device of a tensor: cpu, or cuda:<index> (the CUDA backend plugs in behind this seam).
#pragma once
#include <ostream>
#include <string>

namespace difflab::tensor {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// "cpu", "cuda" (= cuda:0) or "cuda:<index>"; anything else is an error naming the string.
Device parse_device(const std::string& name);
// Throws a difflab::Error naming the device when it cannot be used in this build or on this
// machine (no CUDA backend built, no GPU, index out of range).
void check_device_available(const Device& d);
// Whether this build has the CUDA backend; how many devices it can use (0 without a backend,
// a driver or a GPU; never throws); and why none can be used ("" when one can). Tests skip
// their CUDA cases with that reason.
bool cuda_built();
int cuda_device_count();
std::string cuda_unavailable_reason();

}  // namespace difflab::tensor
