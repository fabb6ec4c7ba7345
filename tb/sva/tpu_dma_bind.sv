// Binds the AXI4 checker to every tpu_dma: its m_axi_* port is tpu_top's (simulation only; the runner
// adds this file to Verilator builds that contain tpu_dma, see tb/common/runner.py).
bind tpu_dma tpu_axi_checker #(
  .AddrW(AddrW), .DataW(BusW), .IdW(IdW), .MaxBurst(MaxBurst), .MaxOutstanding(MaxOutstanding)
) u_axi_checker (
  .clk_i(clk_i), .rst_ni(rst_ni),
  .awid(m_axi_awid), .awaddr(m_axi_awaddr), .awlen(m_axi_awlen), .awsize(m_axi_awsize),
  .awburst(m_axi_awburst), .awvalid(m_axi_awvalid), .awready(m_axi_awready),
  .wdata(m_axi_wdata), .wstrb(m_axi_wstrb), .wlast(m_axi_wlast), .wvalid(m_axi_wvalid),
  .wready(m_axi_wready), .bresp(m_axi_bresp), .bvalid(m_axi_bvalid), .bready(m_axi_bready),
  .arid(m_axi_arid), .araddr(m_axi_araddr), .arlen(m_axi_arlen), .arsize(m_axi_arsize),
  .arburst(m_axi_arburst), .arvalid(m_axi_arvalid), .arready(m_axi_arready),
  .rdata(m_axi_rdata), .rresp(m_axi_rresp), .rlast(m_axi_rlast), .rvalid(m_axi_rvalid),
  .rready(m_axi_rready),
  // The counters are for the formal proofs; simulation leaves them open.
  /* verilator lint_off PINCONNECTEMPTY */
  .aw_n_o(), .wb_n_o(), .b_n_o(), .ar_n_o(), .rb_n_o(), .wbeat_o(), .rbeat_o()
  /* verilator lint_on PINCONNECTEMPTY */
);
