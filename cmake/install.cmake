# Installs libtaskgrid.a, the public headers and a CMake package, so that
#   find_package(taskgrid) + target_link_libraries(app taskgrid::taskgrid)
# works from the installed prefix.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS taskgrid taskgrid_cli taskgrid_net_cli EXPORT taskgridTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/taskgrid DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT taskgridTargets NAMESPACE taskgrid::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskgrid)
configure_package_config_file(cmake/taskgridConfig.cmake.in
  ${PROJECT_BINARY_DIR}/taskgridConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskgrid)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/taskgridConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/taskgridConfig.cmake
              ${PROJECT_BINARY_DIR}/taskgridConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/taskgrid)
