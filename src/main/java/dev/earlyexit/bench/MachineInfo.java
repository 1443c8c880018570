package dev.earlyexit.bench;

import dev.earlyexit.cli.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** What a benchmark ran on, for its report: speeds mean little without the CPU, cores and JVM. */
public final class MachineInfo {
    private MachineInfo() {
    }

    /** cpu, cores, java, vm, os of this process's machine. */
    static Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel(readCpuInfo()));
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("java", System.getProperty("java.version"));
        m.put("vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        return m;
    }

    /** One line of {@link #describe}'s fields, for people. */
    static String summary(Map<String, Object> machine) {
        return machine.get("cpu") + ", " + machine.get("cores") + " cores, Java " + machine.get("java") + " ("
                + machine.get("vm") + "), " + machine.get("os");
    }

    /** The first "model name" (x86) or "Model"/"Hardware" (ARM) of /proc/cpuinfo text, or "unknown". */
    static String cpuModel(String cpuinfo) {
        for (String key : new String[] {"model name", "Model", "Hardware"}) {
            for (String line : cpuinfo.split("\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).strip().equals(key)) {
                    String value = line.substring(colon + 1).strip();
                    if (!value.isEmpty()) {
                        return value;
                    }
                }
            }
        }
        return "unknown";
    }

    private static String readCpuInfo() {
        try {
            return Files.readString(Path.of("/proc/cpuinfo"));
        } catch (IOException | RuntimeException e) {
            return ""; // not Linux: the model stays unknown, the rest of the report is still right
        }
    }
}
