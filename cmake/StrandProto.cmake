# strand_proto_library(NAME <target> PROTOS <files...> [GRPC])
#
# Runs protoc (and the gRPC C++ plugin when GRPC is given) on .proto files under proto/, writing
# the generated code to ${CMAKE_BINARY_DIR}/gen so that includes stay rooted at the repository
# root: #include "proto/raft/v1/raft.pb.h". Generated code is compiled without -Werror.
function(strand_proto_library)
  cmake_parse_arguments(ARG "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(gen_dir ${CMAKE_BINARY_DIR}/gen)
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${proto})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(outs ${gen_dir}/${base}.pb.cc ${gen_dir}/${base}.pb.h)
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND outs ${gen_dir}/${base}.grpc.pb.cc ${gen_dir}/${base}.grpc.pb.h)
      set(plugin_args --grpc_out=${gen_dir} --plugin=protoc-gen-grpc=${STRAND_GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${gen_dir}
      COMMAND ${STRAND_PROTOC} -I${CMAKE_SOURCE_DIR} --cpp_out=${gen_dir} ${plugin_args} ${rel}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${proto} ${STRAND_PROTOC}
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      COMMENT "protoc ${rel}")
    list(APPEND srcs ${outs})
  endforeach()
  add_library(${ARG_NAME} STATIC ${srcs})
  target_include_directories(${ARG_NAME} PUBLIC ${gen_dir})
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${ARG_NAME} PUBLIC gRPC::grpc++)
  endif()
  target_compile_options(${ARG_NAME} PRIVATE -w)
endfunction()
