# Installation (docs/install.md). `cmake --install build --prefix P` puts
#   P/bin/starc                          the command
#   P/share/starc/stdlib, .../kernels    the stdlib and the kernel library's C sources, found
#                                        relative to the binary (compiler/ir/share_dir.h)
#   P/include/starc/                     the C++ API (runtime/api/starc.h) and what it includes
#   P/lib/libstarc_*.a, P/lib/cmake/starc  find_package(starc): target starc::api
#   P/share/doc/starc                    the docs
# and the Python module where tools/python/CMakeLists.txt says. `cpack -G DEB` in the
# build folder makes a .deb of the same tree for /usr.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS starc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/stdlib/ DESTINATION ${CMAKE_INSTALL_DATADIR}/starc/stdlib)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/compiler/backend/kernels/ DESTINATION ${CMAKE_INSTALL_DATADIR}/starc/kernels)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The API's headers keep their paths (#include "runtime/api/starc.h" with -I P/include/starc).
foreach(dir compiler dsl runtime)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/starc
    FILES_MATCHING PATTERN "*.h")
endforeach()
foreach(lib api dsl runtime lower graph)
  set_target_properties(starc_${lib} PROPERTIES EXPORT_NAME ${lib})  # starc::api, ...
endforeach()
install(TARGETS starc_api starc_dsl starc_runtime starc_lower starc_graph EXPORT starcTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT starcTargets NAMESPACE starc:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/starc)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/starcConfig.cmake.in ${CMAKE_BINARY_DIR}/starcConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/starc)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/starcConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/starcConfig.cmake ${CMAKE_BINARY_DIR}/starcConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/starc)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME starc)
set(CPACK_PACKAGE_VENDOR "starc developers")
set(CPACK_PACKAGE_CONTACT "starc developers <starc@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "a compiler for neural networks in astronomy")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The run-time libraries the binary and AOT builds need (dpkg-shlibdeps finds the rest).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libomp-22-dev, libopenblas-dev, libfftw3-dev, zlib1g-dev, gcc, binutils")
if(MPI_C_FOUND)  # find_package(starc) looks for MPI too (starcConfig.cmake)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi-dev")
endif()
include(CPack)
