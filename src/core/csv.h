// CSV (RFC 4180) field quoting, shared by every CSV taskgrid writes.
#ifndef TASKGRID_CORE_CSV_H_
#define TASKGRID_CORE_CSV_H_

#include <string>
#include <string_view>

namespace taskgrid {

// Appends `field` as it appears in a CSV line: quoted (with quotes
// doubled) when it contains a comma, a double quote, CR or LF; verbatim
// otherwise. Other bytes (NUL, invalid UTF-8) are written as they are.
inline void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

inline std::string CsvField(std::string_view field) {
  std::string out;
  AppendCsvField(field, &out);
  return out;
}

}  // namespace taskgrid

#endif  // TASKGRID_CORE_CSV_H_
