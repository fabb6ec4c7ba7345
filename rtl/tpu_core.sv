// tpu_core: the programmable core (docs/core.md): memories, host port, control unit, the four
// execution units, the systolic array and the vector unit, and the performance counters.
//
// Ports
//   clk_i, rst_ni      : clock, asynchronous active-low reset. Reset stops a run and clears every
//                        register (status, tiles, VPU and loop registers); memory contents are kept.
//   start_i            : one-cycle pulse: run from pc_start_i (ignored while busy_o)
//   pc_start_i
//   busy_o             : a run is in progress (from the edge after start_i up to the done edge)
//   done_o             : one-cycle pulse when the run has ended; error_o / pc_o are valid from then on
//   error_o            : tpu_pkg::Err* of the last run (ErrNone after HALT), held until the next start
//   pc_o               : address of the HALT or of the failing instruction (ErrPc: ImemDepth-1)
//   host_req_valid_i   : host request (valid/ready); accepted while the core is stopped, and during
//                        a run while a DMA instruction is outstanding (dma_active_o) for UB, WMEM
//                        and ACC whenever no unit uses that memory's port this cycle
//   host_req_ready_o   : (!busy_o and no start_i) or the DMA case above
//   host_req_we_i      : write (else read)
//   host_req_mem_i     : tpu_pkg::HostMem* (IMEM, UB, WMEM, ACC)
//   host_req_addr_i    : word address in that memory
//   host_req_wdata_i   : the word; memories narrower than HostW take the low bits
//   host_rsp_valid_o   : every accepted request answers exactly once, in the cycle after it was
//                        accepted (no back-pressure on responses)
//   host_rsp_err_o     : the address was at or past the memory's depth: nothing was written or read
//   host_rsp_rdata_o   : read data, zero-extended (0 for writes and errors)
//   perf_cycles_o      : edges from start to done of the last (or current) run
//   perf_rows_o        : array-busy cycles: rows entering the array
//   perf_macs_o        : multiply-accumulates: perf_rows_o * P * P
//   perf_wstall_o      : cycles a MATMUL with SWAP waited only for its LDW (weight-load stalls)
// The counters restart at every start and hold their values after done.
//   perf_row_o, perf_wstall_inc_o : this cycle's increments of perf_rows_o / perf_wstall_o (for tpu_csr)
//   dma_req_o .. dma_host_o : a DMA instruction issues (tpu_ctrl); dma_done_i / dma_err_i (DmaErr*)
//                        end it. Its memory traffic comes back through the host port.
module tpu_core #(
  parameter int P         = tpu_pkg::ArraySize,
  parameter int DataW     = tpu_pkg::DataW,
  parameter int FracW     = tpu_pkg::FracW,
  parameter int AccW      = tpu_pkg::AccW,
  parameter int ImemDepth = tpu_pkg::ImemDepth,
  parameter int UbDepth   = tpu_pkg::UbDepth,
  parameter int WmDepth   = tpu_pkg::WmDepth,
  parameter int AccDepth  = tpu_pkg::AccDepth,
  // Derived: do not override.
  parameter int ImemAw    = $clog2(ImemDepth),
  parameter int HostW     = (P * AccW > tpu_pkg::InstrW) ? P * AccW : tpu_pkg::InstrW
) (
  input  logic                            clk_i,
  input  logic                            rst_ni,
  input  logic                            start_i,
  input  logic [ImemAw-1:0]               pc_start_i,
  output logic                            busy_o,
  output logic                            done_o,
  output logic [tpu_pkg::ErrW-1:0]        error_o,
  output logic [ImemAw-1:0]               pc_o,
  input  logic                            host_req_valid_i,
  output logic                            host_req_ready_o,
  input  logic                            host_req_we_i,
  input  logic [tpu_pkg::HostMemW-1:0]    host_req_mem_i,
  input  logic [tpu_pkg::HostAddrW-1:0]   host_req_addr_i,
  input  logic [HostW-1:0]                host_req_wdata_i,
  output logic                            host_rsp_valid_o,
  output logic                            host_rsp_err_o,
  output logic [HostW-1:0]                host_rsp_rdata_o,
  output logic [tpu_pkg::PerfCntW-1:0]    perf_cycles_o,
  output logic [tpu_pkg::PerfCntW-1:0]    perf_rows_o,
  output logic [tpu_pkg::PerfCntW-1:0]    perf_macs_o,
  output logic [tpu_pkg::PerfCntW-1:0]    perf_wstall_o,
  output logic                            perf_row_o,
  output logic                            perf_wstall_inc_o,
  output logic                            dma_req_o,
  output logic                            dma_out_o,
  output logic [1:0]                      dma_sel_o,
  output logic [tpu_pkg::InstrAW-1:0]     dma_addr_o,
  output logic [tpu_pkg::InstrBW-1:0]     dma_len_o,
  output logic [63:0]                     dma_host_o,
  input  logic                            dma_done_i,
  input  logic [7:0]                      dma_err_i
);
  import tpu_pkg::*;

  localparam int UbAw  = $clog2(UbDepth);
  localparam int WmAw  = $clog2(WmDepth);
  localparam int AccAw = $clog2(AccDepth);
  localparam int CpAw  = (UbAw > WmAw) ? UbAw : WmAw;
  localparam int DW    = P * DataW;  // UB / WMEM word
  localparam int AW    = P * AccW;   // ACC word
  localparam int CntW  = PerfCntW;

  // ---- Parameter checks (elaboration) -----------------------------------------------------------
  // A configuration the RTL cannot implement stops elaboration with a message naming the parameter.
  // Icarus 11 has no elaboration-time $fatal: there an instance of a module that does not exist,
  // named after the broken rule, stops elaboration instead ("Unknown module type: <rule>").
  localparam int FieldDepth = 2 ** InstrAW;  // words a 12-bit address field reaches
  if (!(DataW >= 2 && DataW <= SetvSlopeW && FracW >= 0 && FracW < DataW)) begin : g_bad_dataw
`ifdef __ICARUS__
    tpu_core__DataW_must_be_2_to_16_and_FracW_below_it u_param_error ();
`else
    $fatal(1, "tpu_core: DataW = %0d, FracW = %0d: need DataW 2 .. %0d (SETV fields), 0 <= FracW < DataW",
           DataW, FracW, SetvSlopeW);
`endif
  end
  if (!(ImemDepth >= 2 && ImemDepth <= 2 ** HostAddrW)) begin : g_bad_imem
`ifdef __ICARUS__
    tpu_core__ImemDepth_must_be_2_to_65536 u_param_error ();
`else
    $fatal(1, "tpu_core: ImemDepth = %0d: must be 2 .. %0d (host port addresses)", ImemDepth, 2 ** HostAddrW);
`endif
  end
  if (!(UbDepth >= 2 && UbDepth <= FieldDepth)) begin : g_bad_ub
`ifdef __ICARUS__
    tpu_core__UbDepth_must_be_2_to_4096 u_param_error ();
`else
    $fatal(1, "tpu_core: UbDepth = %0d: must be 2 .. %0d (12-bit address fields)", UbDepth, FieldDepth);
`endif
  end
  if (!(WmDepth >= 2 && WmDepth >= P && WmDepth <= FieldDepth)) begin : g_bad_wm
`ifdef __ICARUS__
    tpu_core__WmDepth_must_be_P_to_4096 u_param_error ();
`else
    $fatal(1, "tpu_core: WmDepth = %0d: must be max(2, P = %0d) .. %0d (a tile; 12-bit address fields)",
           WmDepth, P, FieldDepth);
`endif
  end
  if (!(AccDepth >= 2 && AccDepth <= FieldDepth)) begin : g_bad_acc
`ifdef __ICARUS__
    tpu_core__AccDepth_must_be_2_to_4096 u_param_error ();
`else
    $fatal(1, "tpu_core: AccDepth = %0d: must be 2 .. %0d (12-bit address fields)", AccDepth, FieldDepth);
`endif
  end

  typedef logic [P-1:0][DataW-1:0] dword_t;
  typedef logic [P-1:0][AccW-1:0]  aword_t;

  // ---- Control unit -------------------------------------------------------------------------------
  logic              imem_re;
  logic [ImemAw-1:0] imem_raddr;
  logic [InstrW-1:0] imem_rdata;
  logic wu_accept, wu_swap_ok, wu_idle, mu_accept, mu_idle, vu_idle, cu_idle, ser_idle, all_idle;
  logic is_ldw, is_matmul, is_vec, is_ldb, is_copy, swap, wstall;
  logic [InstrAW-1:0] fa;
  // Only the low AccAw bits of the SETBG register address ACC (VEC checks it is below AccDepth).
  /* verilator lint_off UNUSEDSIGNAL */
  logic [InstrAW-1:0] bgrad_addr;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [InstrBW-1:0] fb;
  logic [InstrCW-1:0] fc;
  logic [InstrDW-1:0] fd;
  logic [InstrFlagsW-1:0] flags;
  logic [SetvActW-1:0] act;
  logic [SetvShiftW-1:0] shift;
  logic [SetvLossShiftW-1:0] loss_shift;
  logic [DataW-1:0] slope, loss_scale;
  logic dma_active;

  assign ser_idle = vu_idle && cu_idle;
  assign all_idle = ser_idle && wu_idle && mu_idle;

  tpu_ctrl #(
    .P(P), .DataW(DataW), .ImemDepth(ImemDepth), .UbDepth(UbDepth), .WmDepth(WmDepth),
    .AccDepth(AccDepth)
  ) u_ctrl (
    .clk_i, .rst_ni, .start_i, .pc_start_i, .busy_o, .done_o, .error_o, .pc_o,
    .imem_re_o      (imem_re),
    .imem_raddr_o   (imem_raddr),
    .imem_rdata_i   (imem_rdata),
    .wu_accept_i    (wu_accept),
    .wu_swap_ok_i   (wu_swap_ok),
    .mu_accept_i    (mu_accept),
    .ser_idle_i     (ser_idle),
    .all_idle_i     (all_idle),
    .issue_ldw_o    (is_ldw),
    .issue_matmul_o (is_matmul),
    .issue_vec_o    (is_vec),
    .issue_ldb_o    (is_ldb),
    .issue_copy_o   (is_copy),
    .swap_o         (swap),
    .fld_a_o        (fa),
    .fld_b_o        (fb),
    .fld_c_o        (fc),
    .fld_d_o        (fd),
    .flags_o        (flags),
    .act_o          (act),
    .shift_o        (shift),
    .slope_o        (slope),
    .loss_scale_o   (loss_scale),
    .loss_shift_o   (loss_shift),
    .bgrad_addr_o   (bgrad_addr),
    .wstall_o       (wstall),
    .dma_req_o,
    .dma_out_o,
    .dma_sel_o,
    .dma_addr_o,
    .dma_len_o,
    .dma_host_o,
    .dma_active_o   (dma_active),
    .dma_done_i,
    .dma_err_i
  );

  // Flags [7:6] are used by no opcode (decode rejects them), so no unit looks at them.
  logic unused_flags;
  assign unused_flags = ^flags[InstrFlagsW-1:VecFlagSrcUb+1];

  // ---- Host port ----------------------------------------------------------------------------------
  logic h_acc, h_ok, h_we, h_re;
  logic h_imem, h_ub, h_wm, h_accm;
  logic rsp_valid_q, rsp_err_q, rsp_read_q;
  logic [HostMemW-1:0] rsp_mem_q;

  assign h_acc  = host_req_valid_i && host_req_ready_o;
  always_comb begin
    case (int'(host_req_mem_i))
      HostMemImem: h_ok = int'(host_req_addr_i) < ImemDepth;
      HostMemUb:   h_ok = int'(host_req_addr_i) < UbDepth;
      HostMemWm:   h_ok = int'(host_req_addr_i) < WmDepth;
      HostMemAcc:  h_ok = int'(host_req_addr_i) < AccDepth;
      default:     h_ok = 1'b0;
    endcase
  end
  assign h_we   = h_acc && h_ok && host_req_we_i;
  assign h_re   = h_acc && h_ok && !host_req_we_i;
  assign h_imem = (int'(host_req_mem_i) == HostMemImem);
  // Address and data slices per memory (ranges were checked in h_ok).
  logic [UbAw-1:0]  h_addr_ub;
  logic [WmAw-1:0]  h_addr_wm;
  logic [AccAw-1:0] h_addr_acc;
  dword_t           h_wdata_d;
  aword_t           h_wdata_a;
  assign h_addr_ub  = host_req_addr_i[UbAw-1:0];
  assign h_addr_wm  = host_req_addr_i[WmAw-1:0];
  assign h_addr_acc = host_req_addr_i[AccAw-1:0];
  assign h_wdata_d  = host_req_wdata_i[DW-1:0];
  assign h_wdata_a  = host_req_wdata_i[AW-1:0];
  assign h_ub   = (int'(host_req_mem_i) == HostMemUb);
  assign h_wm   = (int'(host_req_mem_i) == HostMemWm);
  assign h_accm = (int'(host_req_mem_i) == HostMemAcc);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rsp_valid_q <= 1'b0;
      rsp_err_q   <= 1'b0;
      rsp_read_q  <= 1'b0;
      rsp_mem_q   <= '0;
    end else begin
      rsp_valid_q <= h_acc;
      rsp_err_q   <= h_acc && !h_ok;
      rsp_read_q  <= h_re;
      rsp_mem_q   <= host_req_mem_i;
    end
  end

  // ---- Memories -----------------------------------------------------------------------------------
  // IMEM
  logic imem_we;
  assign imem_we = h_we && h_imem;
  tpu_ram #(.Width(InstrW), .Depth(ImemDepth)) u_imem (
    .clk_i,
    .we_i    (imem_we),
    .waddr_i (host_req_addr_i[ImemAw-1:0]),
    .wdata_i (host_req_wdata_i[InstrW-1:0]),
    .re_i    (imem_re || (h_re && h_imem)),
    .raddr_i (imem_re ? imem_raddr : host_req_addr_i[ImemAw-1:0]),
    .rdata_o (imem_rdata)
  );

  // Unit-side memory ports (each unit drives only its own; the muxes below pick the active one).
  logic             wu_wm_re;
  logic [WmAw-1:0]  wu_wm_raddr;
  logic             mu_ub_re, mu_acc_re, mu_acc_we;
  logic [UbAw-1:0]  mu_ub_raddr;
  logic [AccAw-1:0] mu_acc_raddr, mu_acc_waddr;
  aword_t           mu_acc_wdata;
  logic             vu_ub_re, vu_aux_re, vu_acc_re, vu_ub_we, vu_acc_we;
  logic [UbAw-1:0]  vu_ub_raddr, vu_aux_raddr, vu_ub_waddr;
  logic [AccAw-1:0] vu_acc_raddr, vu_acc_waddr;
  dword_t           vu_ub_wdata;
  aword_t           vu_acc_wdata;
  logic             cu_ub_re, cu_wm_re, cu_ub_we, cu_wm_we;
  logic [UbAw-1:0]  cu_ub_raddr, cu_ub_waddr;
  logic [WmAw-1:0]  cu_wm_raddr, cu_wm_waddr;
  dword_t           cu_ub_wdata, cu_wm_wdata;

  // UB: two copies written together give the second read port (aux rows of VEC).
  logic            ub_we, ub_re, aux_re;
  logic [UbAw-1:0] ub_waddr, ub_raddr;
  dword_t          ub_wdata, ub_rdata, aux_rdata;
  always_comb begin
    ub_we = 1'b1;
    if (vu_ub_we) begin
      ub_waddr = vu_ub_waddr;
      ub_wdata = vu_ub_wdata;
    end else if (cu_ub_we) begin
      ub_waddr = cu_ub_waddr;
      ub_wdata = cu_ub_wdata;
    end else begin
      ub_we    = h_we && h_ub;
      ub_waddr = h_addr_ub;
      ub_wdata = h_wdata_d;
    end
    ub_re = 1'b1;
    if (mu_ub_re)      ub_raddr = mu_ub_raddr;
    else if (vu_ub_re) ub_raddr = vu_ub_raddr;
    else if (cu_ub_re) ub_raddr = cu_ub_raddr;
    else begin
      ub_re    = 1'b0;
      ub_raddr = h_addr_ub;
    end
  end
  // The host reads UB through the second copy: during a DMA the matrix unit owns port A.
  assign aux_re = vu_aux_re || (h_re && h_ub);

  // During a run the DMA may use a memory port in any cycle no unit uses it (units never wait for it).
  logic run_free;
  always_comb begin
    case (int'(host_req_mem_i))
      HostMemUb:  run_free = host_req_we_i ? !(vu_ub_we || cu_ub_we) : !vu_aux_re;
      HostMemWm:  run_free = host_req_we_i ? !cu_wm_we : !(wu_wm_re || cu_wm_re);
      HostMemAcc: run_free = host_req_we_i ? !(mu_acc_we || vu_acc_we) : !(mu_acc_re || vu_acc_re);
      default:    run_free = 1'b0;  // IMEM is fetched every cycle of a run
    endcase
  end
  assign host_req_ready_o = (!busy_o && !start_i) || (busy_o && dma_active && run_free);

  tpu_ram #(.Width(DW), .Depth(UbDepth)) u_ub (
    .clk_i, .we_i(ub_we), .waddr_i(ub_waddr), .wdata_i(ub_wdata),
    .re_i(ub_re), .raddr_i(ub_raddr), .rdata_o(ub_rdata)
  );
  tpu_ram #(.Width(DW), .Depth(UbDepth)) u_ub_aux (
    .clk_i, .we_i(ub_we), .waddr_i(ub_waddr), .wdata_i(ub_wdata),
    .re_i(aux_re), .raddr_i(vu_aux_re ? vu_aux_raddr : h_addr_ub), .rdata_o(aux_rdata)
  );

  // WMEM
  logic            wm_we, wm_re;
  logic [WmAw-1:0] wm_waddr, wm_raddr;
  dword_t          wm_wdata, wm_rdata;
  always_comb begin
    if (cu_wm_we) begin
      wm_we    = 1'b1;
      wm_waddr = cu_wm_waddr;
      wm_wdata = cu_wm_wdata;
    end else begin
      wm_we    = h_we && h_wm;
      wm_waddr = h_addr_wm;
      wm_wdata = h_wdata_d;
    end
    wm_re = 1'b1;
    if (wu_wm_re)      wm_raddr = wu_wm_raddr;
    else if (cu_wm_re) wm_raddr = cu_wm_raddr;
    else begin
      wm_re    = h_re && h_wm;
      wm_raddr = h_addr_wm;
    end
  end
  tpu_ram #(.Width(DW), .Depth(WmDepth)) u_wm (
    .clk_i, .we_i(wm_we), .waddr_i(wm_waddr), .wdata_i(wm_wdata),
    .re_i(wm_re), .raddr_i(wm_raddr), .rdata_o(wm_rdata)
  );

  // ACC
  logic             acc_we, acc_re;
  logic [AccAw-1:0] acc_waddr, acc_raddr;
  aword_t           acc_wdata, acc_rdata;
  always_comb begin
    acc_we = 1'b1;
    if (mu_acc_we) begin
      acc_waddr = mu_acc_waddr;
      acc_wdata = mu_acc_wdata;
    end else if (vu_acc_we) begin
      acc_waddr = vu_acc_waddr;
      acc_wdata = vu_acc_wdata;
    end else begin
      acc_we    = h_we && h_accm;
      acc_waddr = h_addr_acc;
      acc_wdata = h_wdata_a;
    end
    acc_re = 1'b1;
    if (mu_acc_re)      acc_raddr = mu_acc_raddr;
    else if (vu_acc_re) acc_raddr = vu_acc_raddr;
    else begin
      acc_re    = h_re && h_accm;
      acc_raddr = h_addr_acc;
    end
  end
  tpu_ram #(.Width(AW), .Depth(AccDepth)) u_acc (
    .clk_i, .we_i(acc_we), .waddr_i(acc_waddr), .wdata_i(acc_wdata),
    .re_i(acc_re), .raddr_i(acc_raddr), .rdata_o(acc_rdata)
  );

  // Host read data: the memory the request addressed, zero-extended.
  always_comb begin
    host_rsp_rdata_o = '0;
    if (rsp_read_q) begin
      case (int'(rsp_mem_q))
        HostMemImem: host_rsp_rdata_o = HostW'(imem_rdata);
        HostMemUb:   host_rsp_rdata_o = HostW'(aux_rdata);
        HostMemWm:   host_rsp_rdata_o = HostW'(wm_rdata);
        HostMemAcc:  host_rsp_rdata_o = HostW'(acc_rdata);
        default:     host_rsp_rdata_o = '0;
      endcase
    end
  end
  assign host_rsp_valid_o = rsp_valid_q;
  assign host_rsp_err_o   = rsp_err_q;

  // ---- Execution units and datapath ---------------------------------------------------------------
  logic   w_valid, w_last, x_valid, x_switch, y_valid, mu_row;
  dword_t w_data, x_data;
  aword_t y_data;

  tpu_wunit #(.P(P), .DataW(DataW), .WmAw(WmAw)) u_wunit (
    .clk_i, .rst_ni,
    .start_i      (is_ldw),
    .start_addr_i (fa[WmAw-1:0]),
    .start_t_i    (flags[LdwFlagT]),
    .accept_o     (wu_accept),
    .swap_ok_o    (wu_swap_ok),
    .idle_o       (wu_idle),
    .wm_re_o      (wu_wm_re),
    .wm_raddr_o   (wu_wm_raddr),
    .wm_rdata_i   (wm_rdata),
    .w_valid_o    (w_valid),
    .w_last_o     (w_last),
    .w_data_o     (w_data)
  );

  tpu_munit #(.P(P), .DataW(DataW), .AccW(AccW), .UbAw(UbAw), .AccAw(AccAw)) u_munit (
    .clk_i, .rst_ni,
    .start_i          (is_matmul),
    .start_ub_i       (fa[UbAw-1:0]),
    .start_acc_i      (fb[AccAw-1:0]),
    .start_m_i        (fc),
    .start_acc_flag_i (flags[MatmulFlagAcc]),
    .start_switch_i   (swap),
    .accept_o         (mu_accept),
    .idle_o           (mu_idle),
    .ub_re_o          (mu_ub_re),
    .ub_raddr_o       (mu_ub_raddr),
    .ub_rdata_i       (ub_rdata),
    .x_valid_o        (x_valid),
    .x_switch_o       (x_switch),
    .x_data_o         (x_data),
    .y_valid_i        (y_valid),
    .y_data_i         (y_data),
    .acc_re_o         (mu_acc_re),
    .acc_raddr_o      (mu_acc_raddr),
    .acc_rdata_i      (acc_rdata),
    .acc_we_o         (mu_acc_we),
    .acc_waddr_o      (mu_acc_waddr),
    .acc_wdata_o      (mu_acc_wdata),
    .row_o            (mu_row)
  );

  tpu_array #(.P(P), .DataW(DataW), .AccW(AccW)) u_array (
    .clk_i, .rst_ni,
    .w_valid_i  (w_valid),
    .w_last_i   (w_last),
    .w_data_i   (w_data),
    .x_valid_i  (x_valid),
    .x_switch_i (x_switch),
    .x_data_i   (x_data),
    .y_valid_o  (y_valid),
    .y_data_o   (y_data)
  );

  tpu_vunit #(
    .P(P), .DataW(DataW), .FracW(FracW), .AccW(AccW), .UbAw(UbAw), .AccAw(AccAw)
  ) u_vunit (
    .clk_i, .rst_ni,
    .start_i         (is_vec || is_ldb),
    .start_ldb_i     (is_ldb),
    .start_dst_i     (fb[UbAw-1:0]),
    .start_aux_i     (fd[UbAw-1:0]),
    .start_acc_src_i (fa[AccAw-1:0]),
    .start_ub_src_i  (fa[UbAw-1:0]),
    .start_m_i       (fc),
    .start_path_i    (flags[VecPathW-1:0]),
    .start_src_ub_i  (flags[VecFlagSrcUb]),
    .act_i           (act),
    .shift_i         (shift),
    .slope_i         (slope),
    .loss_scale_i    (loss_scale),
    .loss_shift_i    (loss_shift),
    .bgrad_addr_i    (bgrad_addr[AccAw-1:0]),
    .idle_o          (vu_idle),
    .ub_re_o         (vu_ub_re),
    .ub_raddr_o      (vu_ub_raddr),
    .ub_rdata_i      (ub_rdata),
    .aux_re_o        (vu_aux_re),
    .aux_raddr_o     (vu_aux_raddr),
    .aux_rdata_i     (aux_rdata),
    .acc_re_o        (vu_acc_re),
    .acc_raddr_o     (vu_acc_raddr),
    .acc_rdata_i     (acc_rdata),
    .ub_we_o         (vu_ub_we),
    .ub_waddr_o      (vu_ub_waddr),
    .ub_wdata_o      (vu_ub_wdata),
    .acc_we_o        (vu_acc_we),
    .acc_waddr_o     (vu_acc_waddr),
    .acc_wdata_o     (vu_acc_wdata)
  );

  tpu_cunit #(.P(P), .DataW(DataW), .AddrW(CpAw), .UbAw(UbAw), .WmAw(WmAw)) u_cunit (
    .clk_i, .rst_ni,
    .start_i        (is_copy),
    .start_src_i    (fa[CpAw-1:0]),
    .start_dst_i    (fb[CpAw-1:0]),
    .start_len_i    (fc),
    .start_t_i      (flags[CopyFlagT]),
    .start_src_wm_i (flags[CopyFlagSrcWm]),
    .start_dst_wm_i (flags[CopyFlagDstWm]),
    .idle_o         (cu_idle),
    .ub_re_o        (cu_ub_re),
    .ub_raddr_o     (cu_ub_raddr),
    .ub_rdata_i     (ub_rdata),
    .wm_re_o        (cu_wm_re),
    .wm_raddr_o     (cu_wm_raddr),
    .wm_rdata_i     (wm_rdata),
    .ub_we_o        (cu_ub_we),
    .ub_waddr_o     (cu_ub_waddr),
    .ub_wdata_o     (cu_ub_wdata),
    .wm_we_o        (cu_wm_we),
    .wm_waddr_o     (cu_wm_waddr),
    .wm_wdata_o     (cu_wm_wdata)
  );

  // ---- Performance counters -----------------------------------------------------------------------
  logic [CntW-1:0] cycles_q, rows_q, wstall_q;
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      cycles_q <= '0;
      rows_q   <= '0;
      wstall_q <= '0;
    end else if (start_i && !busy_o) begin
      cycles_q <= '0;
      rows_q   <= '0;
      wstall_q <= '0;
    end else if (busy_o) begin
      cycles_q <= cycles_q + CntW'(1);
      rows_q   <= rows_q + CntW'(mu_row);
      wstall_q <= wstall_q + CntW'(wstall);
    end
  end
  assign perf_cycles_o = cycles_q;
  assign perf_rows_o   = rows_q;
  assign perf_macs_o   = rows_q * CntW'(P * P);
  assign perf_wstall_o = wstall_q;
  assign perf_row_o        = busy_o && mu_row;
  assign perf_wstall_inc_o = busy_o && wstall;

endmodule
