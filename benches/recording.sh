# Shared by benches/record.sh and benches/record-criterion.sh (sourced, not
# run): what every recorded result line says about where and when it was
# made. Needs jq.

command -v jq >/dev/null || { echo "$(basename "$0"): needs jq" >&2; exit 2; }

# Refuses a NAME that is not a plain file name.
check_name() {
    case "$1" in
        *[!A-Za-z0-9._-]*)
            echo "$(basename "$0"): NAME may hold only letters, digits, '.', '_' and '-'" >&2
            exit 2
            ;;
    esac
}

# The 1-, 5- and 15-minute load averages as a JSON array.
loadavg() { cut -d' ' -f1-3 /proc/loadavg | jq -R 'split(" ") | map(tonumber)'; }

sysctl_or_null() { if [ -r "$1" ]; then cat "$1"; else echo null; fi; }

# Sets `commit` (HEAD, or unknown) and `clean` (whether no tracked file
# differs: true, false, or null outside git).
commit_and_clean() {
    commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    if [ "$commit" = unknown ]; then
        clean=null
    elif [ -z "$(git status --porcelain --untracked-files=no)" ]; then
        clean=true
    else
        clean=false
    fi
}

# The machine as one JSON object.
machine_json() {
    jq -n -c \
        --arg cpu_model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
        --argjson cpus "$(nproc)" \
        --argjson memory_kib "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
        --arg kernel "$(uname -r)" \
        --argjson rmem_max "$(sysctl_or_null /proc/sys/net/core/rmem_max)" \
        --argjson rmem_default "$(sysctl_or_null /proc/sys/net/core/rmem_default)" \
        '{cpu_model: $cpu_model, cpus: $cpus, memory_kib: $memory_kib, kernel: $kernel,
          rmem_max: $rmem_max, rmem_default: $rmem_default}'
}
