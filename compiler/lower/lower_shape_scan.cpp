// Lowerings: Shape ops (reshape, transpose, concat, slice, pad, ...), full, one_hot, scan.
#include <fmt/format.h>

#include "compiler/lower/emit.h"

namespace starc {

void register_shape_scan_lowerings(LoweringTable& t) {}

}  // namespace starc
