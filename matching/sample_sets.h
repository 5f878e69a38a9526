// Shared input checks of every divergence: two sample sets X [N, ...] and Y [M, ...] become
// feature matrices [N, F] and [M, F] (trailing dims flattened), with one error naming the op.
#pragma once
#include <utility>

#include "autograd/var.h"

namespace difflab::matching {

// Checks that X and Y are non-empty, share a floating dtype and a feature size; returns them as
// [N, F] and [M, F] (a 1-D set is N points of one feature).
std::pair<ag::Var, ag::Var> as_features(const ag::Var& x, const ag::Var& y, const char* op);

}  // namespace difflab::matching
