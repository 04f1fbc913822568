# make testdata compiles the C test programs under testdata/ (and the
# objects with unsupported features under testdata/bad/) with Debian's
# clang-19; make examples the examples' programs, make all both. The
# objects are committed, so building and testing ebpfvm needs
# no clang; run this after editing a .c file or the header, and commit the
# .o files. OUT=DIR writes the objects to DIR instead (the elf tests use it
# to check that the committed objects are up to date).

CLANG ?= clang-19
LLVM_STRIP ?= llvm-strip-19
# -mcpu=v3: atomics and 32-bit jumps, accepted by every kernel since 5.1,
# so the same objects run in the kernel for differential tests.
# -g emits BTF; llvm-strip -g then drops the DWARF sections (and with them
# the absolute build paths), keeping .BTF and .BTF.ext.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Werror -Itestdata/include

OUT ?= testdata
SRCS := $(wildcard testdata/*.c testdata/bad/*.c)
OBJS := $(patsubst testdata/%.c,$(OUT)/%.o,$(SRCS))

# The examples' objects live beside their sources in examples/NAME/bpf/
# (Go refuses C files beside Go files without cgo), and main.go embeds them,
# so "go run ./examples/NAME" needs no clang. EXOUT=DIR writes them to
# DIR/NAME/bpf/ instead.
EXOUT ?= examples
EXAMPLE_SRCS := $(wildcard examples/*/bpf/*.c)
EXAMPLE_OBJS := $(patsubst examples/%.c,$(EXOUT)/%.o,$(EXAMPLE_SRCS))

.PHONY: all testdata examples
all: testdata examples
testdata: $(OBJS)
examples: $(EXAMPLE_OBJS)

$(EXOUT)/%.o: examples/%.c testdata/include/ebpfvm.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@

$(OUT)/%.o: testdata/%.c testdata/include/ebpfvm.h
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(LLVM_STRIP) -g $@
