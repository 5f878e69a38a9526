// A synthetic MNIST cache for the tests of commands that read MNIST, so no download is needed:
// 100 images per digit, 28×28, digit d a bar on rows 3 + 2d and 4 + 2d whose columns and ink
// vary with the image (the classifiers have something to learn).
#pragma once
#include <string>

namespace difflab::testing {

// Writes the cache to `path` and points $DIFFLAB_MNIST at it.
void use_synthetic_mnist(const std::string& path);

}  // namespace difflab::testing
