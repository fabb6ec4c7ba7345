// tpu_ctrl: the control unit. Fetches from IMEM, decodes, checks (docs/isa.md §5, in that order),
// issues in program order to the execution units, runs the LOOP registers and the status.
//
// Ports
//   clk_i, rst_ni   : clock, asynchronous active-low reset (idle, registers zero)
//   start_i         : start a run at pc_start_i (ignored while busy_o)
//   pc_start_i
//   busy_o          : a run is in progress (from the edge after start_i to the done edge)
//   done_o          : one-cycle pulse after the run ended (error_o / pc_o valid from then on)
//   error_o         : status code (tpu_pkg::Err*), held until the next start
//   pc_o            : address of the HALT or of the failing instruction (while running: the fetch PC)
//   imem_re_o, imem_raddr_o, imem_rdata_i : IMEM read port (one cycle latency)
//   wu_accept_i, wu_swap_ok_i, mu_accept_i : issue conditions of the weight and matrix units
//   ser_idle_i      : the vector and copy units are idle (nothing issues while they run)
//   all_idle_i      : every unit is idle (array drained, all writes done)
//   issue_*_o       : the instruction in decode issues at this edge to that unit
//   swap_o          : with issue_matmul_o: its first row carries the array's switch
//   fld_*_o, flags_o: the decoded fields (valid with the issue strobes)
//   act_o .. bgrad_addr_o : the SETV and SETBG registers
//   wstall_o        : this cycle a MATMUL with SWAP waits only for its LDW (performance counter)
//   dma_req_o       : one-cycle pulse: a DMA instruction issues; dma_out_o, dma_sel_o (MemSel*),
//   dma_addr_o, dma_len_o (on-chip words) and dma_host_o (SETH base + offset, all ones if the sum
//   passes 2^64) describe it
//   dma_active_o    : a DMA instruction is outstanding (from its issue to dma_done_i)
//   dma_done_i, dma_err_i : the outstanding DMA ended, with a tpu_pkg::DmaErr* code
//
// DMA overlap (docs/isa.md §4): a DMA issues when every unit is idle and no DMA is outstanding. While it
// runs only NOP, SETV, SETBG, SETH, LOOP, and LDW / MATMUL whose ranges miss the DMA's range, may
// issue; everything else waits for it. A DMA error is the earliest error in program order (everything
// running was issued after the DMA), so it replaces any error found meanwhile, with the DMA's PC.
//
// One instruction can issue per cycle: the IMEM address of the next instruction is presented in the
// cycle the current one issues. Errors are found in decode; the core then waits until every unit is
// idle before it stops (rule 5), so the memories hold exactly the effects of the earlier instructions.
module tpu_ctrl #(
  parameter int P         = tpu_pkg::ArraySize,
  parameter int DataW     = tpu_pkg::DataW,
  parameter int ImemDepth = tpu_pkg::ImemDepth,
  parameter int UbDepth   = tpu_pkg::UbDepth,
  parameter int WmDepth   = tpu_pkg::WmDepth,
  parameter int AccDepth  = tpu_pkg::AccDepth,
  parameter int ImemAw    = (ImemDepth > 1) ? $clog2(ImemDepth) : 1  // derived: do not override
) (
  input  logic                                clk_i,
  input  logic                                rst_ni,
  input  logic                                start_i,
  input  logic [ImemAw-1:0]                   pc_start_i,
  output logic                                busy_o,
  output logic                                done_o,
  output logic [tpu_pkg::ErrW-1:0]            error_o,
  output logic [ImemAw-1:0]                   pc_o,
  output logic                                imem_re_o,
  output logic [ImemAw-1:0]                   imem_raddr_o,
  input  logic [tpu_pkg::InstrW-1:0]          imem_rdata_i,
  input  logic                                wu_accept_i,
  input  logic                                wu_swap_ok_i,
  input  logic                                mu_accept_i,
  input  logic                                ser_idle_i,
  input  logic                                all_idle_i,
  output logic                                issue_ldw_o,
  output logic                                issue_matmul_o,
  output logic                                issue_vec_o,
  output logic                                issue_ldb_o,
  output logic                                issue_copy_o,
  output logic                                swap_o,
  output logic [tpu_pkg::InstrAW-1:0]         fld_a_o,
  output logic [tpu_pkg::InstrBW-1:0]         fld_b_o,
  output logic [tpu_pkg::InstrCW-1:0]         fld_c_o,
  output logic [tpu_pkg::InstrDW-1:0]         fld_d_o,
  output logic [tpu_pkg::InstrFlagsW-1:0]     flags_o,
  output logic [tpu_pkg::SetvActW-1:0]        act_o,
  output logic [tpu_pkg::SetvShiftW-1:0]      shift_o,
  output logic [DataW-1:0]                    slope_o,
  output logic [DataW-1:0]                    loss_scale_o,
  output logic [tpu_pkg::SetvLossShiftW-1:0]  loss_shift_o,
  output logic [tpu_pkg::InstrAW-1:0]         bgrad_addr_o,
  output logic                                wstall_o,
  output logic                                dma_req_o,
  output logic                                dma_out_o,
  output logic [1:0]                          dma_sel_o,
  output logic [tpu_pkg::InstrAW-1:0]         dma_addr_o,
  output logic [tpu_pkg::InstrBW-1:0]         dma_len_o,
  output logic [63:0]                         dma_host_o,
  output logic                                dma_active_o,
  input  logic                                dma_done_i,
  input  logic [7:0]                          dma_err_i
);
  import tpu_pkg::*;

  localparam int OpW = InstrOpW;

  typedef enum logic [1:0] {StIdle, StRun, StStop} state_e;
  state_e state_q;

  logic [ImemAw-1:0] pc_q;
  logic [ErrW-1:0]   err_q;
  logic              done_q;
  logic              loop_q;           // a loop is active
  logic [ImemAw-1:0] loop_start_q, loop_end_q;
  logic [InstrAW-1:0] loop_left_q;
  logic              pending_q;        // an LDW loaded the shadow tile since the last switch
  logic [SetvActW-1:0]       act_q;
  logic [SetvShiftW-1:0]     shift_q;
  logic [DataW-1:0]          slope_q, loss_scale_q;
  logic [SetvLossShiftW-1:0] loss_shift_q;
  logic [InstrAW-1:0]        bgrad_q;
  logic [63:0]               seth_q;   // DMA host base address (SETH)
  logic                      dma_q;    // a DMA instruction is outstanding
  logic [ImemAw-1:0]         dma_pc_q;
  logic [1:0]                dma_sel_q;
  logic [InstrAW-1:0]        dma_lo_q;
  logic [InstrBW-1:0]        dma_n_q;

  // ---- Decode -----------------------------------------------------------------------------------
  logic [InstrW-1:0] ins;
  logic [OpW-1:0]    op;
  logic [InstrFlagsW-1:0] flags;
  int a, b, c, d;
  assign ins   = imem_rdata_i;
  assign op    = ins[InstrOpLsb +: OpW];
  assign flags = ins[InstrFlagsLsb +: InstrFlagsW];
  assign a     = int'(ins[InstrALsb +: InstrAW]);
  assign b     = int'(ins[InstrBLsb +: InstrBW]);
  assign c     = int'(ins[InstrCLsb +: InstrCW]);
  assign d     = int'(ins[InstrDLsb +: InstrDW]);

  function automatic logic [InstrW-1:0] fmask(int lsb, int w);
    return ((InstrW'(1) << w) - InstrW'(1)) << lsb;
  endfunction

  function automatic logic [InstrW-1:0] flag(int bit_pos);
    return InstrW'(1) << (InstrFlagsLsb + bit_pos);
  endfunction

  // A range start .. start+len-1 ends at or past depth.
  function automatic logic out_of(int start, int len, int depth);
    return start + len > depth;
  endfunction

  // Destination and source ranges of one memory overlap at different starts.
  function automatic logic overlap(int dst, int src, int len);
    return dst != src && dst < src + len && src < dst + len;
  endfunction

  function automatic int min2(int x, int y);
    return (x < y) ? x : y;
  endfunction

  logic [InstrW-1:0] legal;
  logic [ErrW-1:0]   err;
  logic [SetvActW-1:0] setv_act;
  logic              f_copy_t, f_swap, f_src_ub, f_src_wm, f_dst_wm, f_bgrad, f_aux;
  int                src_depth, dst_depth;
  logic [1:0]        dma_sel;

  assign dma_sel = ins[DmaMemLsb +: DmaMemW];

  function automatic int mem_depth(logic [1:0] sel);
    case (int'(sel))
      MemSelUb: return UbDepth;
      MemSelWm: return WmDepth;
      default:  return AccDepth;
    endcase
  endfunction

  assign f_swap   = flags[MatmulFlagSwap];
  assign f_src_ub = flags[VecFlagSrcUb];
  assign f_src_wm = flags[CopyFlagSrcWm];
  assign f_dst_wm = flags[CopyFlagDstWm];
  assign f_bgrad  = flags[VpuPathBgrad];
  assign f_copy_t = flags[CopyFlagT];
  assign setv_act = ins[SetvActLsb +: SetvActW];
  assign f_aux    = flags[VpuPathLoss] || flags[VpuPathDeriv];

  always_comb begin
    legal     = fmask(InstrOpLsb, InstrOpW);
    err       = ErrW'(ErrNone);
    src_depth = 0;
    dst_depth = 0;
    case (int'(op))
      OpLoop:   legal |= fmask(InstrALsb, InstrAW) | fmask(InstrBLsb, InstrBW);
      OpLdw:    legal |= fmask(InstrALsb, InstrAW) | flag(LdwFlagT);
      OpMatmul: legal |= fmask(InstrALsb, InstrAW) | fmask(InstrBLsb, InstrBW) | fmask(InstrCLsb, InstrCW)
                         | flag(MatmulFlagAcc) | flag(MatmulFlagSwap);
      OpVec:    legal |= fmask(InstrALsb, InstrAW) | fmask(InstrBLsb, InstrBW) | fmask(InstrCLsb, InstrCW)
                         | fmask(InstrDLsb, InstrDW) | fmask(InstrFlagsLsb, VecPathW) | flag(VecFlagSrcUb);
      OpSetv:   legal |= fmask(SetvActLsb, SetvActW) | fmask(SetvShiftLsb, SetvShiftW)
                         | fmask(SetvLossShiftLsb, SetvLossShiftW) | fmask(SetvSlopeLsb, SetvSlopeW)
                         | fmask(SetvLossScaleLsb, SetvLossScaleW);
      OpLdb, OpSetbg: legal |= fmask(InstrALsb, InstrAW);
      OpCopy:   legal |= fmask(InstrALsb, InstrAW) | fmask(InstrBLsb, InstrBW) | fmask(InstrCLsb, InstrCW)
                         | flag(CopyFlagT) | flag(CopyFlagSrcWm) | flag(CopyFlagDstWm);
      OpSeth:   legal |= fmask(SethAddrLsb, SethAddrW) | flag(SethFlagHi);
      OpDma:    legal |= fmask(InstrALsb, InstrAW) | fmask(InstrBLsb, InstrBW) | fmask(DmaHoffLsb, DmaHoffW)
                         | fmask(DmaMemLsb, DmaMemW) | flag(DmaFlagOut);
      default:  ;
    endcase

    if (int'(op) > OpDma || (ins & ~legal) != '0 ||
        (int'(op) == OpSetv && int'(setv_act) > VpuActLeaky) ||
        (int'(op) == OpDma && int'(dma_sel) == MemSelImem)) begin
      err = ErrW'(ErrIllegal);
    end else begin
      case (int'(op))
        OpLoop: begin
          if (loop_q || a == 0 || b == 0 || int'(pc_q) + b >= ImemDepth) err = ErrW'(ErrLoop);
        end
        OpLdw: begin
          if (out_of(a, P, WmDepth)) err = ErrW'(ErrAddr);
        end
        OpMatmul: begin
          if (c == 0 || c > min2(UbDepth, AccDepth)) err = ErrW'(ErrLen);
          else if (out_of(a, c, UbDepth) || out_of(b, c, AccDepth)) err = ErrW'(ErrAddr);
        end
        OpLdb: begin
          if (out_of(a, 1, UbDepth)) err = ErrW'(ErrAddr);
        end
        OpDma: begin
          if (b == 0 || b > mem_depth(dma_sel)) err = ErrW'(ErrLen);
          else if (out_of(a, b, mem_depth(dma_sel))) err = ErrW'(ErrAddr);
        end
        OpCopy: begin
          src_depth = f_src_wm ? WmDepth : UbDepth;
          dst_depth = f_dst_wm ? WmDepth : UbDepth;
          if (c == 0 || c > min2(src_depth, dst_depth)) err = ErrW'(ErrLen);
          else if (f_copy_t && (c % P) != 0) err = ErrW'(ErrLen);
          else if (out_of(a, c, src_depth) || out_of(b, c, dst_depth)) err = ErrW'(ErrAddr);
          else if (f_src_wm == f_dst_wm && overlap(b, a, c)) err = ErrW'(ErrOverlap);
        end
        OpVec: begin
          src_depth = f_src_ub ? UbDepth : AccDepth;
          if (c == 0 || c > min2(src_depth, UbDepth)) err = ErrW'(ErrLen);
          else if (out_of(a, c, src_depth) || out_of(b, c, UbDepth) || (f_aux && out_of(d, c, UbDepth)) ||
                   (f_bgrad && out_of(int'(bgrad_q), 1, AccDepth))) err = ErrW'(ErrAddr);
          else if ((f_src_ub && overlap(b, a, c)) || (f_aux && overlap(b, d, c))) err = ErrW'(ErrOverlap);
        end
        default: ;
      endcase
    end
  end

  // ---- Issue ------------------------------------------------------------------------------------
  logic run, ok, fire, halt, swap_eff, loop_back, last_pc, idle, hz_ldw, hz_mm, dma_fail;
  logic [ImemAw-1:0] pc_next;
  logic [ErrW-1:0]   dma_code;

  // Range interlock with the outstanding DMA (any overlap in the DMA's memory waits for it). Every
  // operand is an argument: Icarus re-evaluates a function in a continuous assignment only when
  // its arguments change.
  function automatic logic dma_hit(logic busy, logic [1:0] busy_sel, int lo, int n, logic [1:0] sel,
                                   int start, int len);
    return busy && busy_sel == sel && start < lo + n && lo < start + len;
  endfunction

  assign idle     = all_idle_i && !dma_q;
  assign hz_ldw   = dma_hit(dma_q, dma_sel_q, int'(dma_lo_q), int'(dma_n_q), 2'(MemSelWm), a, P);
  assign hz_mm    = dma_hit(dma_q, dma_sel_q, int'(dma_lo_q), int'(dma_n_q), 2'(MemSelUb), a, c)
                    || dma_hit(dma_q, dma_sel_q, int'(dma_lo_q), int'(dma_n_q), 2'(MemSelAcc), b, c);
  assign dma_fail = dma_q && dma_done_i && dma_err_i != 8'(DmaErrNone);
  always_comb begin
    case (int'(dma_err_i))
      DmaErrSlv: dma_code = ErrW'(ErrDmaSlv);
      DmaErrDec: dma_code = ErrW'(ErrDmaDec);
      DmaErrWindow:  dma_code = ErrW'(ErrDmaWindow);
      DmaErrProto:   dma_code = ErrW'(ErrDmaProto);
      DmaErrTimeout: dma_code = ErrW'(ErrDmaTimeout);
      default:   dma_code = ErrW'(ErrDmaAddr);  // align, range (the length was checked in decode)
    endcase
  end

  assign run      = (state_q == StRun);
  assign ok       = run && (err == ErrW'(ErrNone)) && ser_idle_i;
  assign halt     = run && (err == ErrW'(ErrNone)) && (int'(op) == OpHalt);
  assign swap_eff = f_swap && pending_q;

  always_comb begin
    fire = 1'b0;
    case (int'(op))
      OpNop, OpSetv, OpSetbg, OpLoop, OpSeth: fire = ok;
      OpSync, OpVec, OpLdb, OpCopy, OpDma:    fire = ok && idle;
      OpLdw:                          fire = ok && wu_accept_i && !hz_ldw;
      OpMatmul:                       fire = ok && mu_accept_i && (!swap_eff || wu_swap_ok_i) && !hz_mm;
      default:                        fire = 1'b0;  // HALT and illegal words never issue
    endcase
  end

  assign issue_ldw_o    = fire && (int'(op) == OpLdw);
  assign issue_matmul_o = fire && (int'(op) == OpMatmul);
  assign issue_vec_o    = fire && (int'(op) == OpVec);
  assign issue_ldb_o    = fire && (int'(op) == OpLdb);
  assign issue_copy_o   = fire && (int'(op) == OpCopy);
  assign swap_o         = swap_eff;
  assign wstall_o       = ok && (int'(op) == OpMatmul) && swap_eff && mu_accept_i && !wu_swap_ok_i;

  assign fld_a_o = ins[InstrALsb +: InstrAW];
  assign fld_b_o = ins[InstrBLsb +: InstrBW];
  assign fld_c_o = ins[InstrCLsb +: InstrCW];
  assign fld_d_o = ins[InstrDLsb +: InstrDW];
  assign flags_o = flags;

  assign loop_back = loop_q && (pc_q == loop_end_q) && (loop_left_q > InstrAW'(1));
  assign pc_next   = loop_back ? loop_start_q : pc_q + ImemAw'(1);
  assign last_pc   = (int'(pc_q) == ImemDepth - 1);

  // The next instruction's address goes to IMEM in the cycle the current one issues.
  always_comb begin
    imem_re_o    = 1'b0;
    imem_raddr_o = pc_q;
    if (state_q == StIdle && start_i) begin
      imem_re_o    = 1'b1;
      imem_raddr_o = pc_start_i;
    end else if (run) begin
      imem_re_o    = 1'b1;
      imem_raddr_o = fire ? pc_next : pc_q;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q      <= StIdle;
      pc_q         <= '0;
      err_q        <= ErrW'(ErrNone);
      done_q       <= 1'b0;
      loop_q       <= 1'b0;
      loop_start_q <= '0;
      loop_end_q   <= '0;
      loop_left_q  <= '0;
      pending_q    <= 1'b0;
      seth_q       <= '0;
      dma_q        <= 1'b0;
      dma_pc_q     <= '0;
      dma_sel_q    <= '0;
      dma_lo_q     <= '0;
      dma_n_q      <= '0;
      act_q        <= '0;
      shift_q      <= '0;
      slope_q      <= '0;
      loss_scale_q <= '0;
      loss_shift_q <= '0;
      bgrad_q      <= '0;
    end else begin
      done_q <= 1'b0;
      if (dma_done_i) dma_q <= 1'b0;
      case (state_q)
        StIdle: begin
          if (start_i) begin
            state_q <= StRun;
            pc_q    <= pc_start_i;
            err_q   <= ErrW'(ErrNone);
            loop_q  <= 1'b0;
          end
        end
        StRun: begin
          if (dma_fail) begin
            state_q <= StStop;
            err_q   <= dma_code;
            pc_q    <= dma_pc_q;
          end else if (err != ErrW'(ErrNone) || halt) begin
            // Stop: the failing instruction (or HALT) keeps its address in pc_q.
            state_q <= StStop;
            err_q   <= err;
          end else if (fire) begin
            pc_q <= pc_next;
            if (loop_q && pc_q == loop_end_q) begin
              if (loop_back) loop_left_q <= loop_left_q - InstrAW'(1);
              else           loop_q      <= 1'b0;
            end
            if (!loop_back && last_pc) begin
              state_q <= StStop;
              err_q   <= ErrW'(ErrPc);
              pc_q    <= pc_q;
            end
            case (int'(op))
              OpLoop: begin
                loop_q       <= 1'b1;
                loop_start_q <= pc_q + ImemAw'(1);
                loop_end_q   <= pc_q + ImemAw'(b);
                loop_left_q  <= InstrAW'(a);
              end
              OpSetv: begin
                act_q        <= ins[SetvActLsb +: SetvActW];
                shift_q      <= ins[SetvShiftLsb +: SetvShiftW];
                slope_q      <= ins[SetvSlopeLsb +: DataW];
                loss_scale_q <= ins[SetvLossScaleLsb +: DataW];
                loss_shift_q <= ins[SetvLossShiftLsb +: SetvLossShiftW];
              end
              OpSetbg:  bgrad_q <= ins[InstrALsb +: InstrAW];
              OpSeth: begin
                if (flags[SethFlagHi]) seth_q[63:32] <= ins[SethAddrLsb +: SethAddrW];
                else                   seth_q        <= 64'(ins[SethAddrLsb +: SethAddrW]);
              end
              OpDma: begin
                dma_q     <= 1'b1;
                dma_pc_q  <= pc_q;
                dma_sel_q <= dma_sel;
                dma_lo_q  <= ins[InstrALsb +: InstrAW];
                dma_n_q   <= ins[InstrBLsb +: InstrBW];
              end
              OpLdw:    pending_q <= 1'b1;
              OpMatmul: if (f_swap) pending_q <= 1'b0;
              default:  ;
            endcase
          end
        end
        StStop: begin
          if (dma_fail) begin
            err_q <= dma_code;
            pc_q  <= dma_pc_q;
          end else if (idle) begin
            state_q <= StIdle;
            done_q  <= 1'b1;
          end
        end
        default: state_q <= StIdle;
      endcase
    end
  end

  assign busy_o       = (state_q != StIdle);
  assign done_o       = done_q;
  assign error_o      = err_q;
  assign pc_o         = pc_q;
  assign act_o        = act_q;
  assign shift_o      = shift_q;
  assign slope_o      = slope_q;
  assign loss_scale_o = loss_scale_q;
  assign loss_shift_o = loss_shift_q;
  assign bgrad_addr_o = bgrad_q;
  assign dma_req_o    = fire && (int'(op) == OpDma);
  assign dma_out_o    = flags[DmaFlagOut];
  assign dma_sel_o    = dma_sel;
  assign dma_addr_o   = ins[InstrALsb +: InstrAW];
  assign dma_len_o    = ins[InstrBLsb +: InstrBW];
  // A base + offset past 2^64 saturates to all ones (misaligned and outside every address space), so
  // it ends in ErrDmaAddr as docs/isa.md says instead of wrapping to a low address.
  logic [64:0] dma_host_sum;
  assign dma_host_sum = 65'(seth_q) + 65'(ins[DmaHoffLsb +: DmaHoffW]);
  assign dma_host_o   = dma_host_sum[64] ? '1 : dma_host_sum[63:0];
  assign dma_active_o = dma_q;

endmodule
