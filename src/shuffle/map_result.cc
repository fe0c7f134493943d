#include "shuffle/map_result.h"

#include "core/status_macros.h"
#include "shuffle/record_io.h"

namespace taskgrid::shuffle {

namespace {
constexpr std::string_view kMagic = "TGMR";
}  // namespace

std::string EncodeMapResult(const MapOutputRef& ref) {
  std::string out(kMagic);
  internal::PutVarint(&out, ref.worker.size());
  out += ref.worker;
  internal::PutVarint(&out, ref.address.size());
  out += ref.address;
  out += ref.info.Serialize();
  return out;
}

StatusOr<MapOutputRef> DecodeMapResult(std::string_view bytes) {
  auto bad = [](const std::string& why) {
    return DataLossError("not a shuffle map result: " + why);
  };
  if (bytes.substr(0, kMagic.size()) != kMagic) return bad("bad magic");
  const char* p = bytes.data() + kMagic.size();
  const char* const end = bytes.data() + bytes.size();
  MapOutputRef ref;
  for (std::string* field : {&ref.worker, &ref.address}) {
    uint64_t n = 0;
    if (!internal::GetVarint(&p, end, 10, &n) ||
        n > static_cast<uint64_t>(end - p)) {
      return bad("truncated");
    }
    field->assign(p, n);
    p += n;
  }
  ASSIGN_OR_RETURN(ref.info,
                   MapOutputInfo::Parse(std::string_view(p, end - p)));
  return ref;
}

}  // namespace taskgrid::shuffle
