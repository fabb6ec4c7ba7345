// Systole package: the widths and constants shared by every RTL block.
//
// This file is the single source of truth for constants that Python also needs: models/hw.py parses
// the `localparam` lines below, so keep each one on a single line of the form
//   localparam int Name = <decimal>;   // comment
package tpu_pkg;

  // Waiver: each module uses only some of these constants, and Verilator reports the rest as unused
  // in every module that elaborates the package.
  /* verilator lint_off UNUSEDPARAM */

  // ---- Number format (docs/number-format.md) --------------------------------------------------
  // Interface data are signed fixed point Q(DataW-FracW).(FracW): Q8.8 by default.
  localparam int DataW = 16;  // bits of one activation / weight element
  localparam int FracW = 8;   // fraction bits of DataW
  // Products are exact (2*DataW bits, 2*FracW fraction bits); partial sums wrap modulo 2^AccW, which
  // keeps accumulation associative, so a GEMM tiled over K gives the same bits as an untiled one.
  localparam int AccW  = 32;  // bits of a partial sum / accumulator

  // ---- Systolic array ---------------------------------------------------------------------------
  localparam int ArraySize = 4;  // default P of the P x P array

  // ---- Vector processing unit (docs/vpu.md) ---------------------------------------------------
  // Thirteen registered stages (rtl/tpu_vpu.sv: the operations requant, bias, act, loss, deriv, bgrad
  // split so that no stage holds more than one multiplier, carry chain or variable shift); bypassed
  // stages still register, so every pathway has the same latency: in_valid_i sampled at edge e ->
  // out_valid_o registered at edge e + VpuLatency - 1.
  localparam int VpuLatency = 13;    // VPU pipeline latency in cycles (see above)
  localparam int VpuPathBias = 0;    // path_i bit: stage 2, add the per-lane bias
  localparam int VpuPathAct = 1;     // path_i bit: stage 3, activation
  localparam int VpuPathLoss = 2;    // path_i bit: stage 4, MSE loss gradient (d - aux) * scale
  localparam int VpuPathDeriv = 3;   // path_i bit: stage 5, multiply by act'(h)
  localparam int VpuPathBgrad = 4;   // path_i bit: stage 6, accumulate the bias-gradient sums
  localparam int VpuActIdentity = 0; // act_i code: identity (3 is reserved and also acts as identity)
  localparam int VpuActRelu = 1;     // act_i code: ReLU
  localparam int VpuActLeaky = 2;    // act_i code: leaky ReLU with slope slope_i

  // ---- ISA (docs/isa.md; owner: ISA engineer) -------------------------------------------------------
  // Fixed 64-bit instructions. Generic layout, every field nibble aligned so a hex dump reads directly:
  //   [63:52] D  [51:40] C  [39:28] B  [27:16] A  [15:8] flags  [7:0] opcode
  // Fields and flags an opcode does not use must be zero, else ErrIllegal.
  localparam int InstrW = 64;        // bits of one instruction (one IMEM word)
  localparam int InstrOpLsb = 0;     // opcode
  localparam int InstrOpW = 8;
  localparam int InstrFlagsLsb = 8;  // per-opcode flag bits
  localparam int InstrFlagsW = 8;
  localparam int InstrALsb = 16;     // field A: first address / count
  localparam int InstrAW = 12;
  localparam int InstrBLsb = 28;     // field B: second address / loop body length
  localparam int InstrBW = 12;
  localparam int InstrCLsb = 40;     // field C: row count M / copy length
  localparam int InstrCW = 12;
  localparam int InstrDLsb = 52;     // field D: VEC aux address
  localparam int InstrDW = 12;
  // Opcodes
  localparam int OpNop = 0;      // no operation
  localparam int OpHalt = 1;     // wait until idle, then stop with ErrNone
  localparam int OpSync = 2;     // wait until every unit is idle
  localparam int OpLoop = 3;     // A=count, B=body length: repeat the next B instructions A times
  localparam int OpLdw = 4;      // A=WMEM address: load a P x P tile into the shadow weights
  localparam int OpMatmul = 5;   // A=UB address, B=ACC address, C=M rows
  localparam int OpVec = 6;      // A=src address, B=UB dst address, C=M rows, D=UB aux address
  localparam int OpSetv = 7;     // set the VPU scalar registers (SETV layout below)
  localparam int OpLdb = 8;      // A=UB address: load the VPU bias register
  localparam int OpSetbg = 9;    // A=ACC address: where VEC writes the bias-gradient sums
  localparam int OpCopy = 10;    // A=src address, B=dst address, C=length in words
  localparam int OpSeth = 11;    // set the DMA host base address register (SETH layout below)
  localparam int OpDma = 12;     // A=on-chip address, B=length in words, [63:40]=host byte offset
  // Flag bit positions, counted from InstrFlagsLsb
  localparam int LdwFlagT = 0;          // LDW: load the tile transposed
  localparam int MatmulFlagAcc = 0;     // MATMUL: add into ACC instead of overwriting
  localparam int MatmulFlagSwap = 1;    // MATMUL: switch to the last loaded tile at the first row
  // VEC: flags [VecPathW-1:0] are the VPU path_i bits themselves (VpuPathBias .. VpuPathBgrad)
  localparam int VecPathW = 5;          // number of VEC pathway flag bits
  localparam int VecFlagSrcUb = 5;      // VEC: source rows from UB (sign-extended) instead of ACC
  localparam int CopyFlagT = 0;         // COPY: transpose every P x P block
  localparam int CopyFlagSrcWm = 1;     // COPY: source memory is WMEM (else UB)
  localparam int CopyFlagDstWm = 2;     // COPY: destination memory is WMEM (else UB)
  // DMA: flag OUT (0 host -> chip, 1 chip -> host) and a 2-bit memory select (MemSel*; IMEM is illegal)
  localparam int DmaFlagOut = 0;        // DMA: chip -> host (else host -> chip)
  localparam int DmaMemLsb = 9;         // DMA: word bits [10:9] = MemSelUb / MemSelWm / MemSelAcc
  localparam int DmaMemW = 2;
  localparam int DmaHoffLsb = 40;       // DMA: host byte offset from the SETH base (fields C and D)
  localparam int DmaHoffW = 24;
  // SETH layout: [63:32] address; flag HI: write base[63:32] (else base = zero-extended address)
  localparam int SethFlagHi = 0;        // SETH: set the upper half of the 64-bit base
  localparam int SethAddrLsb = 32;
  localparam int SethAddrW = 32;
  // SETV layout: [63:48] loss_scale  [47:32] slope  [28:24] loss_shift  [20:16] shift  [9:8] act
  localparam int SetvActLsb = 8;        // VpuAct* code; above VpuActLeaky is ErrIllegal
  localparam int SetvActW = 2;
  localparam int SetvShiftLsb = 16;     // requantization shift
  localparam int SetvShiftW = 5;
  localparam int SetvLossShiftLsb = 24; // loss-gradient shift
  localparam int SetvLossShiftW = 5;
  localparam int SetvSlopeLsb = 32;     // leaky-relu slope, a DataW code (DataW <= 16)
  localparam int SetvSlopeW = 16;
  localparam int SetvLossScaleLsb = 48; // loss-gradient scale, a DataW code (DataW <= 16)
  localparam int SetvLossScaleW = 16;
  // Error codes (status register); the first error stops the core
  localparam int ErrNone = 0;      // running or halted normally
  localparam int ErrIllegal = 1;   // unknown opcode, non-zero unused field/flag, bad SETV act
  localparam int ErrAddr = 2;      // a memory range start..start+len-1 leaves its memory
  localparam int ErrLen = 3;       // zero length, length above the memory depth, transposed length % P != 0
  localparam int ErrPc = 4;        // PC ran off the end of IMEM
  localparam int ErrLoop = 5;      // LOOP with zero count/body, body past IMEM, or nested LOOP
  localparam int ErrOverlap = 6;   // destination overlaps a source in the same memory at a different start
  localparam int ErrDmaAddr = 7;   // DMA host address misaligned to the bus or outside the address space
  localparam int ErrDmaSlv = 8;    // DMA (or the program fetch) got a SLVERR response
  localparam int ErrDmaDec = 9;    // DMA (or the program fetch) got a DECERR response
  localparam int ErrDmaWindow = 10; // DMA (or the program fetch): host range outside the DMA window
  localparam int ErrDmaProto = 11;  // DMA (or the program fetch): RLAST early, late or missing
  localparam int ErrDmaTimeout = 12; // DMA (or the program fetch): the bus stopped answering (DMA_TIMEOUT)
  localparam int ErrAbort = 13;     // the run was stopped by CTRL.ABORT
  // Memory depths (defaults of the core's parameters), in words
  localparam int ImemDepth = 1024;  // instructions
  localparam int UbDepth = 4096;    // P x DataW words: activations, targets, biases
  localparam int WmDepth = 1024;    // P x DataW words: weight tiles, P words each
  localparam int AccDepth = 2048;   // P x AccW words: accumulators

  /* verilator lint_on UNUSEDPARAM */
  // ---- Host interface: CSR map and DMA (docs/csr.md; owner: AXI engineer) -------------------------
  // AXI4-Lite CSR slave (tpu_csr): 32-bit registers at byte offsets; docs/csr.md's table is checked
  // against these lines by models/tests/test_csr_map.py. Counters are 64 bits: reading _LO snapshots _HI.
  // Waiver: only tpu_csr / tpu_dma (and the top) use these; every other module would report them unused.
  /* verilator lint_off UNUSEDPARAM */
  localparam int CsrAddrW = 8;          // byte address bits of the CSR space (64 registers)
  localparam int CsrVersionValue = 65792; // VERSION register: major << 16 | minor << 8 | patch (1.1.0)
  localparam int CsrCtrl = 0;           // WO: [0] START, [1] DMA_START, [2] CNT_CLEAR (reads 0)
  localparam int CsrStatus = 4;         // RO: core and DMA busy/done/error and error codes
  localparam int CsrRejects = 8;        // RO: [15:0] core starts rejected, [31:16] DMA starts rejected
  localparam int CsrIrqEnable = 12;     // RW: one enable bit per interrupt source
  localparam int CsrIrqStatus = 16;     // W1C: one pending bit per interrupt source
  localparam int CsrProgBaseLo = 20;    // RW: program host byte address [31:0]
  localparam int CsrProgBaseHi = 24;    // RW: program host byte address [63:32]
  localparam int CsrProgLen = 28;       // RW: program length in instructions
  localparam int CsrDmaHostLo = 32;     // RW: DMA host byte address [31:0]
  localparam int CsrDmaHostHi = 36;     // RW: DMA host byte address [63:32]
  localparam int CsrDmaMemAddr = 40;    // RW: DMA on-chip word address
  localparam int CsrDmaLen = 44;        // RW: DMA length in on-chip words
  localparam int CsrDmaCfg = 48;        // RW: [0] DIR (1: chip->host), [5:4] memory select
  localparam int CsrPc = 52;            // RO: PC of the last run's HALT or failing instruction
  localparam int CsrDmaWinBaseLo = 96;  // RW: DMA window first host byte address [31:0]
  localparam int CsrDmaWinBaseHi = 100; // RW: DMA window first host byte address [63:32]
  localparam int CsrDmaWinLimitLo = 104; // RW: DMA window end (exclusive) host byte address [31:0]
  localparam int CsrDmaWinLimitHi = 108; // RW: DMA window end (exclusive) host byte address [63:32]
  localparam int CsrDmaTimeout = 112;   // RW: DMA bus timeout in cycles (0 = off)
  localparam int DmaTimeoutReset = 65536; // reset value of DMA_TIMEOUT
  localparam int CsrVersion = 64;       // RO: CsrVersionValue
  localparam int CsrCfgArray = 68;      // RO: [7:0] P, [15:8] DataW, [23:16] FracW, [31:24] AccW
  localparam int CsrCfgImem = 72;       // RO: IMEM depth in words
  localparam int CsrCfgUb = 76;         // RO: UB depth in words
  localparam int CsrCfgWmem = 80;       // RO: WMEM depth in words
  localparam int CsrCfgAcc = 84;        // RO: ACC depth in words
  localparam int CsrCfgDma = 88;        // RO: [15:0] DMA bus data width in bits, [31:16] max burst beats
  localparam int CsrCycLo = 128;        // RO: cycles with the core busy
  localparam int CsrCycHi = 132;
  localparam int CsrArrayBusyLo = 136;  // RO: cycles the array computed
  localparam int CsrArrayBusyHi = 140;
  localparam int CsrMacsLo = 144;       // RO: multiply-accumulates performed
  localparam int CsrMacsHi = 148;
  localparam int CsrWstallLo = 152;     // RO: cycles the array waited for a weight load
  localparam int CsrWstallHi = 156;
  localparam int CsrDmaBytesLo = 160;   // RO: payload bytes the DMA moved
  localparam int CsrDmaBytesHi = 164;
  localparam int CsrDmaStallLo = 168;   // RO: cycles a DMA transfer waited on the bus
  localparam int CsrDmaStallHi = 172;
  // CTRL bits
  localparam int CtrlStart = 0;         // start the core (rejected while busy)
  localparam int CtrlDmaStart = 1;      // start a DMA transfer from the DMA_* registers (rejected while busy)
  localparam int CtrlCntClear = 2;      // clear every performance counter
  localparam int CtrlAbort = 3;         // stop the running program or host transfer (ErrAbort / DmaErrAbort)
  // STATUS bits / fields
  localparam int StatBusy = 0;          // core busy
  localparam int StatDone = 1;          // core finished since the last accepted start
  localparam int StatError = 2;         // the last run ended with a non-zero error code
  localparam int StatDmaBusy = 3;       // DMA busy
  localparam int StatDmaDone = 4;       // DMA finished since the last accepted DMA start
  localparam int StatDmaError = 5;      // the last DMA transfer ended with a non-zero DMA error code
  localparam int StatErrLsb = 8;        // [15:8] core error code (Err*)
  localparam int StatDmaErrLsb = 16;    // [23:16] DMA error code (DmaErr*)
  // Interrupt sources (bits of IRQ_ENABLE / IRQ_STATUS)
  localparam int IrqDone = 0;           // core done (with or without error)
  localparam int IrqError = 1;          // core done with an error
  localparam int IrqDmaDone = 2;        // DMA done (with or without error)
  localparam int IrqDmaError = 3;       // DMA done with an error
  localparam int IrqReject = 4;         // a start or DMA start was rejected
  localparam int IrqW = 5;              // number of interrupt sources
  // DMA (tpu_dma): memory selects, directions and error codes
  localparam int MemSelImem = 0;        // instruction memory, 64-bit words
  localparam int MemSelUb = 1;          // unified buffer, P*DataW-bit words
  localparam int MemSelWm = 2;          // weight memory, P*DataW-bit words
  localparam int MemSelAcc = 3;         // accumulators, P*AccW-bit words
  localparam int DmaDirToChip = 0;      // host memory -> on-chip memory (AXI reads)
  localparam int DmaDirToHost = 1;      // on-chip memory -> host memory (AXI writes)
  localparam int DmaErrNone = 0;        // transfer completed
  localparam int DmaErrAlign = 1;       // host address not aligned to the AXI data width
  localparam int DmaErrRange = 2;       // on-chip range leaves its memory, or host range leaves the address space
  localparam int DmaErrLen = 3;         // zero length
  localparam int DmaErrSlv = 4;         // the bus answered SLVERR
  localparam int DmaErrDec = 5;         // the bus answered DECERR
  localparam int DmaErrWindow = 6;      // host range outside the DMA window (fetch and program DMAs)
  localparam int DmaErrProto = 7;       // an R beat's RLAST disagrees with its burst's ARLEN
  localparam int DmaErrTimeout = 8;     // the slave did not answer within DMA_TIMEOUT cycles
  localparam int DmaErrAbort = 9;       // stopped by CTRL.ABORT
  /* verilator lint_on UNUSEDPARAM */

  // ---- Core (docs/core.md; owner: core engineer) ----------------------------------------------
  // Host port: one word per request, word width max(InstrW, P*AccW); narrower memories use the low bits.
  // Waiver: only tpu_core (and later tpu_top / the DMA) use these.
  /* verilator lint_off UNUSEDPARAM */
  localparam int HostMemW = 2;       // bits of host_req_mem_i
  localparam int HostMemImem = 0;    // host_req_mem_i: instruction memory
  localparam int HostMemUb = 1;      // host_req_mem_i: unified buffer
  localparam int HostMemWm = 2;      // host_req_mem_i: weight memory
  localparam int HostMemAcc = 3;     // host_req_mem_i: accumulators
  localparam int HostAddrW = 16;     // bits of host_req_addr_i (addresses >= the depth answer with an error)
  localparam int ErrW = 4;           // bits of the status error code (Err* above)
  localparam int PerfCntW = 64;      // bits of each performance counter
  /* verilator lint_on UNUSEDPARAM */

endpackage
