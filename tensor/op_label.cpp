#include "tensor/op_label.h"

namespace difflab::tensor {

namespace {
thread_local const OpLabel* g_top = nullptr;
}

OpLabel::OpLabel(const char* name, const char* context)
    : name_(name), context_(context), prev_(g_top) {
  g_top = this;
}

OpLabel::~OpLabel() { g_top = prev_; }

std::string OpLabel::describe() {
  std::string out;
  for (const OpLabel* l = g_top; l; l = l->prev_) {
    std::string one = l->context_ ? std::string(l->context_) + " '" + l->name_ + "'" : l->name_;
    out = out.empty() ? one : out + " (in " + one + ")";
  }
  return out;
}

}  // namespace difflab::tensor
