// Binds the AXI4-Lite checker to every tpu_csr: its s_axil_* port is tpu_top's (simulation only; the
// runner adds this file to Verilator builds that contain tpu_csr, see tb/common/runner.py).
bind tpu_csr tpu_axil_checker #(.AddrW(tpu_pkg::CsrAddrW), .DataW(32)) u_axil_checker (
  .clk_i(clk_i), .rst_ni(rst_ni),
  .awaddr(s_axil_awaddr), .awprot(s_axil_awprot), .awvalid(s_axil_awvalid), .awready(s_axil_awready),
  .wdata(s_axil_wdata), .wstrb(s_axil_wstrb), .wvalid(s_axil_wvalid), .wready(s_axil_wready),
  .bresp(s_axil_bresp), .bvalid(s_axil_bvalid), .bready(s_axil_bready),
  .araddr(s_axil_araddr), .arprot(s_axil_arprot), .arvalid(s_axil_arvalid), .arready(s_axil_arready),
  .rdata(s_axil_rdata), .rresp(s_axil_rresp), .rvalid(s_axil_rvalid), .rready(s_axil_rready),
  // The counters are for the formal proofs; simulation leaves them open.
  /* verilator lint_off PINCONNECTEMPTY */
  .aw_pend_o(), .w_pend_o(), .ar_pend_o()
  /* verilator lint_on PINCONNECTEMPTY */
);
