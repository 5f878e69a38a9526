// Helpers for the tests that run whole commands: fresh temporary run folders, bitwise tensor and
// checkpoint comparison, and starting the `difflab` executable as a child process.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::testing {

// <tmp>/difflab_<name>, removed first so every test starts from nothing.
std::string fresh_temp_dir(const std::string& name);

bool same_bits(const tensor::Tensor& a, const tensor::Tensor& b);

struct FileComparison {
  int compared = 0;   // tensors present in both files
  int differing = 0;  // of those, not bit-identical (each named in the test log)
  int unmatched = 0;  // tensors present in only one of the files
};
// Every tensor of two safetensors files, bit for bit.
FileComparison compare_safetensors(const std::string& a, const std::string& b);

// Starts DIFFLAB_CLI_PATH with `args`; its stdout and stderr are appended to `log` (or only
// stderr, truncated, when stderr_only); `env` is set in the child first.
pid_t spawn_difflab(const std::vector<std::string>& args, const std::string& log,
                    const std::map<std::string, std::string>& env = {}, bool stderr_only = false);
// waitpid, retried on EINTR; returns the raw status.
int wait_status(pid_t pid);

}  // namespace difflab::testing
