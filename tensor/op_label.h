// The tensor op running on this thread, for errors raised deep inside it: the allocator's
// out-of-memory message names "matmul (in backward of 'linear')" rather than only a byte count.
// Labels nest (an RAII stack); the names must outlive the label (string literals, node ops).
#pragma once
#include <string>

namespace difflab::tensor {

class OpLabel {
 public:
  // `context` prefixes the name in descriptions, e.g. "backward of".
  explicit OpLabel(const char* name, const char* context = nullptr);
  ~OpLabel();
  OpLabel(const OpLabel&) = delete;
  OpLabel& operator=(const OpLabel&) = delete;

  // "cat (in backward of 'conv2d')", or "" when no op is running.
  static std::string describe();

 private:
  const char* name_;
  const char* context_;
  const OpLabel* prev_;
};

}  // namespace difflab::tensor
