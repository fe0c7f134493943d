#include "web/dashboard_page.h"

#include <gtest/gtest.h>

#include <string>

#include "web/dashboard_assets.h"

namespace taskgrid {
namespace {

size_t Count(std::string_view s, std::string_view what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string_view::npos;
       at = s.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(DashboardPageTest, InlinesTheEmbeddedCssAndScript) {
  const std::string_view page = DashboardPageHtml();
  EXPECT_EQ(page.find("@DASHBOARD_"), std::string_view::npos);
  ASSERT_FALSE(dashboard_assets::css().empty());
  ASSERT_FALSE(dashboard_assets::js().empty());
  EXPECT_NE(page.find(dashboard_assets::css()), std::string_view::npos);
  EXPECT_NE(page.find(dashboard_assets::js()), std::string_view::npos);
  // The script and style blocks stay whole: nothing inside closes them.
  EXPECT_EQ(Count(page, "</script"), 1u);
  EXPECT_EQ(Count(page, "</style"), 1u);
  // Same object every call.
  EXPECT_EQ(DashboardPageHtml().data(), page.data());
}

TEST(DashboardPageTest, LoadsNothingFromElsewhere) {
  const std::string_view page = DashboardPageHtml();
  for (const char* s : {"http://", "https://", "//cdn", "<link", " src="}) {
    EXPECT_EQ(page.find(s), std::string_view::npos) << s;
  }
}

}  // namespace
}  // namespace taskgrid
