package dev.earlyexit.bench;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class MachineInfoTest {
    @Test
    void cpuModelComesFromTheFirstModelNameLine() {
        String x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\n"
                + "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assertThat(MachineInfo.cpuModel(x86)).isEqualTo("AMD EPYC 7B13");
    }

    @Test
    void armBoardsNameTheirModelOrHardware() {
        assertThat(MachineInfo.cpuModel("processor : 0\nBogoMIPS : 108.00\nModel : Raspberry Pi 4 Model B Rev 1.4\n"))
                .isEqualTo("Raspberry Pi 4 Model B Rev 1.4");
        assertThat(MachineInfo.cpuModel("processor : 0\nHardware : BCM2835\n")).isEqualTo("BCM2835");
        assertThat(MachineInfo.cpuModel("")).isEqualTo("unknown");
        assertThat(MachineInfo.cpuModel("model name\t:\n")).isEqualTo("unknown");
    }

    @Test
    void describesThisProcess() {
        Map<String, Object> m = MachineInfo.describe();
        assertThat(m).containsKeys("cpu", "cores", "java", "vm", "os");
        assertThat(m.get("cores")).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(m.get("java")).isEqualTo(System.getProperty("java.version"));
        assertThat(MachineInfo.summary(m)).contains(m.get("cores") + " cores, Java " + m.get("java"));
    }
}
