// Clock-by-clock testbench for a da4ml pipeline verilated by da4ml's own binder build.
//
// Compiled by triggerbench.fpga.rtl_testbench against the binder's Verilator archives, with
// TB_BINDER naming the generated "<top>_wrapper_binder.cc" (its config struct holds the port
// widths and the DUT class) and TB_CONFIG naming that struct. Each cycle: drive the inputs,
// give one rising clock edge, read the registered outputs. Python decides what to count.
#include TB_BINDER

using tb_cfg = TB_CONFIG;
using tb_dut = tb_cfg::dut_t;

extern "C" {

size_t tb_n_inp() { return tb_cfg::N_inp; }
size_t tb_n_out() { return tb_cfg::N_out; }

void *tb_open() {
    auto *dut = new tb_dut;
    dut->clk = 0;
    dut->eval();
    return dut;
}

void tb_close(void *handle) {
    auto *dut = static_cast<tb_dut *>(handle);
    dut->final();
    delete dut;
}

// Run n_cycles: before edge i drive input row i (N_inp int32 values, LSB-aligned as the binder
// takes them), then read output row i (N_out values) after that edge.
void tb_run(void *handle, const int32_t *c_inp, int32_t *c_out, size_t n_cycles) {
    auto *dut = static_cast<tb_dut *>(handle);
    for (size_t i = 0; i < n_cycles; ++i) {
        write_input<tb_cfg::N_inp, tb_cfg::max_inp_bw>(dut->model_inp, &c_inp[i * tb_cfg::N_inp]);
        dut->clk = 0;
        dut->eval();
        dut->clk = 1;
        dut->eval();
        read_output<tb_cfg::N_out, tb_cfg::max_out_bw>(dut->model_out, &c_out[i * tb_cfg::N_out]);
    }
}

// Drive one input row and settle without a clock edge: the outputs of a purely
// combinational path (zero latency) would show here.
void tb_settle(void *handle, const int32_t *c_inp, int32_t *c_out) {
    auto *dut = static_cast<tb_dut *>(handle);
    write_input<tb_cfg::N_inp, tb_cfg::max_inp_bw>(dut->model_inp, c_inp);
    dut->clk = 0;
    dut->eval();
    read_output<tb_cfg::N_out, tb_cfg::max_out_bw>(dut->model_out, c_out);
}
}
